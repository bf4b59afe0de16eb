"""The two course applications as reusable code, shared by ``examples/`` and the command line:

- :mod:`tinygrad_mv.apps.curve`: the 1-6-7-2 logistic-sigmoid network that learns to draw a curve;
- :mod:`tinygrad_mv.apps.gaussian`: a Gaussian fitted to a histogram of heights by steepest descent
  on chi-squared.

Plotting needs matplotlib (``pip install "tinygrad_mv[plot]"``); without it the training still runs
and the plot functions return None.
"""
