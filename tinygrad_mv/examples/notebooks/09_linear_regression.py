# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Linear regression by minimising chi-squared
#
# Measurements $y_i$ at $x_i$, each with its own standard deviation $\sigma_i$. A model
# $f(x; \mathbf p)$ fits well when its misses are small compared with the error bars, which is
# what chi-squared adds up:
#
# $$\chi^2(\mathbf p) = \sum_i \left(\frac{y_i - f(x_i; \mathbf p)}{\sigma_i}\right)^2 .$$
#
# The best parameters make $\nabla_{\mathbf p}\,\chi^2 = \mathbf 0$. For a straight line
# $f = p_0 + p_1 x$ (or any model linear in $\mathbf p$, $f = A\mathbf p$ with a design matrix
# $A$) this is a linear system, the weighted *normal equations*
#
# $$A^T W A\, \hat{\mathbf p} = A^T W \mathbf y, \qquad W = \mathrm{diag}(1/\sigma_i^2),$$
#
# and the parameters' covariance is $(A^T W A)^{-1}$. `tg.optimize.least_squares_fit` knows
# none of this: it minimises $\chi^2$ for any model, with the model's Jacobian from reverse mode.
# Here we check it against the closed form.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg

rng = np.random.default_rng(11)
n = 20
x = np.linspace(0.0, 10.0, n)
sigma = rng.uniform(0.3, 1.5, n)                 # every point has its own error bar
y = 2.0 + 0.5 * x + rng.normal(0.0, sigma)       # the true line: 2 + 0.5 x

# %% [markdown]
# ## A straight line

# %%
def line(x, p):
    return p[0] + p[1] * x


fit = tg.optimize.least_squares_fit(line, x, y, [0.0, 0.0], sigma=sigma)
print(fit)
print("covariance:\n", fit.covariance)

# %% [markdown]
# **Check.** Against the normal equations solved with `np.linalg.solve` (parameters), their
# inverse matrix (covariance, and the errors as the square roots of its diagonal), the
# chi-squared recomputed from its definition, and `np.polyfit` with weights $1/\sigma_i$ and
# `cov="unscaled"` (errors taken as absolute, as `least_squares_fit` does).

# %%
def weighted_least_squares(A, y, sigma):
    W = np.diag(1 / sigma ** 2)
    normal_matrix = A.T @ W @ A
    params = np.linalg.solve(normal_matrix, A.T @ W @ y)
    return params, np.linalg.inv(normal_matrix)


A = np.stack([np.ones_like(x), x], axis=1)
params, cov = weighted_least_squares(A, y, sigma)
np.testing.assert_allclose(fit.params, params, rtol=1e-12)
np.testing.assert_allclose(fit.covariance, cov, rtol=1e-12)
np.testing.assert_allclose(fit.errors, np.sqrt(np.diag(cov)), rtol=1e-12)

chi2 = np.sum(((y - A @ params) / sigma) ** 2)
np.testing.assert_allclose(fit.chi2, chi2, rtol=1e-12)
assert fit.dof == n - 2
np.testing.assert_allclose(fit.reduced_chi2, chi2 / (n - 2), rtol=1e-12)

poly, poly_cov = np.polyfit(x, y, 1, w=1 / sigma, cov="unscaled")   # highest power first
np.testing.assert_allclose(fit.params, poly[::-1], rtol=1e-10)
np.testing.assert_allclose(fit.covariance, poly_cov[::-1, ::-1], rtol=1e-10)
print(f"intercept {fit.params[0]:.4f} +- {fit.errors[0]:.4f}, "
      f"slope {fit.params[1]:.4f} +- {fit.errors[1]:.4f}")
print(f"chi2 = {fit.chi2:.2f} for {fit.dof} degrees of freedom: reduced chi2 = "
      f"{fit.reduced_chi2:.3f}")

# %% [markdown]
# The reduced chi-squared $\chi^2/(n - k)$ should be about 1, give or take $\sqrt{2/(n-k)}
# \approx 0.33$ here, when the model is right and the error bars are honest: each point then
# misses by about one $\sigma$. Far above 1 means a wrong model or error bars that are too
# small; far below, error bars that are too large. 0.59 is on the low side but unremarkable.
#
# ## Where the errors come from: the curvature of $\chi^2$
#
# For a linear model $\chi^2$ is exactly a quadratic bowl in $\mathbf p$, with Hessian
# $H = 2A^TWA$. So the covariance is $2H^{-1}$: a sharply curved bowl pins the parameters down.
# Moving from $\hat{\mathbf p}$ until $\chi^2$ has risen by 1 traces the ellipse
# $(\mathbf p - \hat{\mathbf p})^T C^{-1} (\mathbf p - \hat{\mathbf p}) = 1$, whose extent along
# each axis is that parameter's standard error.
#
# **Check** with reverse mode: $\nabla\chi^2 = \mathbf 0$ at the fit, $2H^{-1}$ is the
# covariance, and $\chi^2$ is exactly $\chi^2_{\min} + 1$ at the ellipse's right-most point
# $\hat{\mathbf p} + C\mathbf e_0 / \sqrt{C_{00}}$.

# %%
def chi_squared(p):
    return (((y - line(x, p)) / sigma) ** 2).sum()


best = fit.params
assert np.max(np.abs(tg.grad(chi_squared)(best).numpy())) <= 1e-10
H = tg.hessian(chi_squared)(best).numpy()
np.testing.assert_allclose(2 * np.linalg.inv(H), fit.covariance, rtol=1e-12)

C = fit.covariance
edge = best + C[:, 0] / np.sqrt(C[0, 0])
np.testing.assert_allclose(edge[0] - best[0], fit.errors[0], rtol=1e-12)
np.testing.assert_allclose(chi_squared(edge).item(), fit.chi2 + 1, rtol=1e-12)
print("H =", H.tolist())

# %%
p0s, p1s = np.meshgrid(np.linspace(best[0] - 0.8, best[0] + 0.8, 200),
                       np.linspace(best[1] - 0.17, best[1] + 0.17, 200))
resid = (y[:, None, None] - p0s - p1s * x[:, None, None]) / sigma[:, None, None]
chi2_grid = (resid ** 2).sum(axis=0)
angle = np.linspace(0, 2 * np.pi, 200)
ellipse = best[:, None] + np.linalg.cholesky(C) @ np.stack([np.cos(angle), np.sin(angle)])

fig, ax = plt.subplots(figsize=(6.5, 5))
cs = ax.contour(p0s, p1s, chi2_grid - fit.chi2, levels=[1, 4, 9, 16, 25], cmap="viridis")
ax.clabel(cs, fontsize=8, fmt=r"$\Delta\chi^2$=%g")
ax.plot(*ellipse, "r--", lw=1.5, label="ellipse from the covariance")
ax.errorbar(*best, xerr=fit.errors[0], yerr=fit.errors[1], fmt="ko", capsize=4,
            label="fit +- errors")
ax.set(xlabel="intercept $p_0$", ylabel="slope $p_1$",
       title=r"$\chi^2 - \chi^2_{\min}$ over the parameters")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The $\Delta\chi^2 = 1$ contour and the covariance ellipse are the same curve, and the error
# bars of the fit just reach it. The ellipse is tilted: intercept and slope are anticorrelated
# (raise the slope and the intercept must drop to keep the line through the data).
#
# ## A quadratic: is the extra parameter needed?
#
# The same check for a model with three parameters, $p_0 + p_1 x + p_2 x^2$.

# %%
def quadratic(x, p):
    return p[0] + p[1] * x + p[2] * x ** 2


fit2 = tg.optimize.least_squares_fit(quadratic, x, y, [0.0, 0.0, 0.0], sigma=sigma)
A2 = np.stack([np.ones_like(x), x, x ** 2], axis=1)
params2, cov2 = weighted_least_squares(A2, y, sigma)
np.testing.assert_allclose(fit2.params, params2, rtol=1e-10)
np.testing.assert_allclose(fit2.covariance, cov2, rtol=1e-10)
np.testing.assert_allclose(fit2.chi2, np.sum(((y - A2 @ params2) / sigma) ** 2), rtol=1e-12)
assert fit2.dof == n - 3
assert fit2.chi2 <= fit.chi2              # one more parameter never fits worse
assert abs(fit2.params[2]) < fit2.errors[2]
for name, value, error in zip(["p0", "p1", "p2"], fit2.params, fit2.errors):
    print(f"{name} = {value:+.4f} +- {error:.4f}")
print(f"chi2 = {fit2.chi2:.3f} ({fit2.dof} dof), down by only {fit.chi2 - fit2.chi2:.4f}")

# %% [markdown]
# $p_2$ is well within one standard error of 0 and $\chi^2$ hardly falls: the data give no
# reason for curvature, so the straight line is the model to keep. (A real curvature would lower
# $\chi^2$ by many units per parameter.)
#
# The fits over the data, with the line's $1\sigma$ band,
# $\sigma_f(x)^2 = \mathbf a(x)^T C\, \mathbf a(x)$ for $\mathbf a(x) = (1, x)$, and the
# residuals in units of $\sigma_i$ (the "pulls").

# %%
grid = np.linspace(-0.5, 10.5, 200)
design = np.stack([np.ones_like(grid), grid], axis=1)
band = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.covariance, design))
fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
top.errorbar(x, y, yerr=sigma, fmt="o", color="black", ms=4, capsize=3, label=r"data $\pm\sigma$")
top.plot(grid, line(grid, fit.params), color="tab:blue",
         label=f"line, reduced $\\chi^2$ = {fit.reduced_chi2:.2f}")
top.fill_between(grid, line(grid, fit.params) - band, line(grid, fit.params) + band,
                 color="tab:blue", alpha=0.25, label=r"line's $1\sigma$ band")
top.plot(grid, quadratic(grid, fit2.params), "--", color="tab:orange",
         label=f"quadratic, reduced $\\chi^2$ = {fit2.reduced_chi2:.2f}")
top.plot(grid, 2.0 + 0.5 * grid, ":", color="grey", label="true line")
top.set(ylabel="y")
top.legend(fontsize=8, loc="upper left")
bottom.axhline(0.0, color="grey", lw=0.8)
bottom.bar(x, fit.residuals, width=0.25, color="tab:blue")
bottom.set(xlabel="x", ylabel=r"$(y - f)/\sigma$")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Check.** The pulls are the residuals divided by the error bars, and their squares add up to
# $\chi^2$.

# %%
np.testing.assert_allclose(fit.residuals, (y - line(x, fit.params)) / sigma, rtol=1e-10,
                           atol=1e-13)
np.testing.assert_allclose(np.sum(fit.residuals ** 2), fit.chi2, rtol=1e-12)
