"""The example programs and the course notebooks, shipped with the package: list them with
``tinygrad-mv examples`` and run one with ``tinygrad-mv run NAME --out DIR``. Each program is a
script (``python -m tinygrad_mv.examples.NAME`` runs it too); importing this package runs
nothing."""
