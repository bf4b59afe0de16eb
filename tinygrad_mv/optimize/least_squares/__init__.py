"""Chi-squared fitting, :func:`least_squares_fit`, one file per part (as SciPy's ``optimize/_lsq``):

- :mod:`.fit`: ``least_squares_fit`` itself: checks its arguments, starts at p0, runs a method.
- :mod:`.model`: the model and its Jacobian d model / d p by reverse mode (optionally jit-compiled).
- :mod:`.chi2`: chi^2 of the residuals, the Gauss-Newton step and the test that ends a fit.
- :mod:`.trust_region`: Levenberg-Marquardt's trust-region step and search (as MINPACK).
- :mod:`.loops`: the Gauss-Newton loop (with its halving search) and steepest descent on chi^2.
- :mod:`.result`: the verdict, the covariance of the parameters and the :class:`FitResult`.
"""
from .fit import least_squares_fit

__all__ = ["least_squares_fit"]
