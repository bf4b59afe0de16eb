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
# # Gradient descent and its relatives on the Rosenbrock valley
#
# The gradient $\nabla f$ points uphill, so a small step against it goes downhill:
#
# $$\mathbf x_{k+1} = \mathbf x_k - \eta \, \nabla f(\mathbf x_k),$$
#
# with a step size (learning rate) $\eta$. How well that works depends on the shape of $f$. The
# Rosenbrock function
#
# $$f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2$$
#
# has its minimum $f = 0$ at $(1, 1)$, at the end of a long, narrow, curved valley: steep across
# it, almost flat along it. That is the classic hard case for plain gradient descent.

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

import tinygrad_mv as tg


def rosenbrock(v):
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def grad_by_hand(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


def hessian_by_hand(p):
    x, y = p
    return np.array([[2 - 400 * (y - 3 * x ** 2), -400 * x], [-400 * x, 200.0]])


start = np.array([-1.2, 1.0])   # the classic start, on the far side of the valley

# %% [markdown]
# **Check.** Reverse mode (`tg.grad`, and `tg.hessian` for second derivatives) agrees with the
# hand derivatives, and one plain step of `tg.optimize.minimize(..., method="gd")` with a fixed
# learning rate is exactly $\mathbf x_0 - \eta \nabla f(\mathbf x_0)$.

# %%
np.testing.assert_allclose(tg.grad(rosenbrock)(start).numpy(), grad_by_hand(start), rtol=1e-14)
np.testing.assert_allclose(tg.hessian(rosenbrock)(start).numpy(), hessian_by_hand(start),
                           rtol=1e-14)

lr = 1e-3
one_step = tg.optimize.minimize(rosenbrock, start, method="gd", lr=lr, max_iter=1)
print("grad f(x0) =", grad_by_hand(start), "  x1 =", one_step.path[1])
np.testing.assert_allclose(one_step.path[1], start - lr * grad_by_hand(start), rtol=1e-15)

# %% [markdown]
# ## Four methods
#
# `tg.optimize.minimize` takes its derivatives from reverse mode and offers:
#
# - `"gd"`: steepest descent. Without `lr`, each step length is found by backtracking (halve the
#   step until $f$ falls enough), so no learning rate has to be tuned;
# - `"momentum"`: the heavy ball, $\mathbf v \leftarrow 0.9\,\mathbf v + \nabla f$,
#   $\mathbf x \leftarrow \mathbf x - \eta \mathbf v$: steps that keep pointing the same way add
#   up, which helps along a flat valley floor. By default $\eta = 1/|\lambda_{\max}|$ of the
#   Hessian at the start;
# - `"adam"`: momentum on the gradient and on its square, each coordinate's step scaled by its
#   own typical gradient size ($\eta = 0.01$ by default);
# - `"newton"`: $\mathbf x \leftarrow \mathbf x - H^{-1} \nabla f$, using the curvature too
#   (backtracking if the full step does not lower $f$).
#
# We give each at most 500 iterations.

# %%
methods = {"gd": "tab:blue", "momentum": "tab:orange", "adam": "tab:green", "newton": "tab:red"}
results = {m: tg.optimize.minimize(rosenbrock, start, method=m, max_iter=500) for m in methods}
for m, res in results.items():
    print(f"{m:8s} {res.nit:4d} iterations  f = {res.fun:.2e}  x = {np.round(res.x, 6)}  "
          f"{'converged' if res.success else 'not converged'}")

# %% [markdown]
# **Check.** Newton converges, to the minimum $(1, 1)$ (any method that reports success must be
# there). The others are not finished but have gone downhill, and each method's first steps
# follow its textbook rule, replayed here in plain NumPy from the hand gradient:
# steepest descent moves exactly along $-\nabla f$, momentum and Adam match their update rules,
# Newton's first (full) step is $\mathbf x_0 - H^{-1}\nabla f$.

# %%
for res in results.values():
    if res.success:
        np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)
        assert np.max(np.abs(grad_by_hand(res.x))) <= 1e-8
    assert res.fun < rosenbrock(start)
assert results["newton"].success

# steepest descent: every step is a positive multiple of -grad f, and f never goes up
gd = results["gd"]
for a, b in zip(gd.path[:-1], gd.path[1:]):
    t = (a - b) / grad_by_hand(a)
    assert t[0] > 0 and abs(t[0] - t[1]) <= 1e-9 * t[0]
assert np.all(np.diff(gd.values) <= 0)

# momentum, with its default step 1 / (largest |eigenvalue| of the Hessian at the start)
eta = 1 / np.abs(np.linalg.eigvalsh(hessian_by_hand(start))).max()
np.testing.assert_allclose(results["momentum"].lr, eta, rtol=1e-12)
x, v = start.copy(), np.zeros(2)
for k in range(1, 11):
    v = 0.9 * v + grad_by_hand(x)
    x = x - eta * v
    np.testing.assert_allclose(results["momentum"].path[k], x, rtol=1e-12)

# Adam (PyTorch's rule, lr 0.01, betas 0.9 and 0.999)
x, m1, m2 = start.copy(), np.zeros(2), np.zeros(2)
for k in range(1, 11):
    g = grad_by_hand(x)
    m1, m2 = 0.9 * m1 + 0.1 * g, 0.999 * m2 + 0.001 * g ** 2
    x = x - 0.01 * (m1 / (1 - 0.9 ** k)) / (np.sqrt(m2 / (1 - 0.999 ** k)) + 1e-8)
    np.testing.assert_allclose(results["adam"].path[k], x, rtol=1e-12)

# Newton's first step
newton_step = start - np.linalg.solve(hessian_by_hand(start), grad_by_hand(start))
np.testing.assert_allclose(results["newton"].path[1], newton_step, rtol=1e-12)
print("all four methods follow their update rules")

# %% [markdown]
# The paths over the contours of $f$ (log-spaced, since $f$ spans many orders of magnitude), and
# $f$ along each path.

# %%
xs, ys = np.meshgrid(np.linspace(-2.0, 2.0, 300), np.linspace(-1.0, 3.0, 300))
zs = (1 - xs) ** 2 + 100 * (ys - xs ** 2) ** 2
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
left.contour(xs, ys, zs + 1e-3, levels=np.logspace(-2, 3.5, 18), norm=LogNorm(), cmap="Greys",
             linewidths=0.7)
for m, colour in methods.items():
    path = results[m].path
    left.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.2, label=f"{m} ({results[m].nit})")
    left.plot(*path[-1], "o", color=colour, ms=4)
    right.semilogy(np.maximum(results[m].values, 1e-30), color=colour, label=m)
left.plot(*start, "ks", ms=6, label="start")
left.plot(1, 1, "k*", ms=12, label="minimum (1, 1)")
left.set(xlabel="x", ylabel="y", title="paths over the contours of f")
left.legend(fontsize=8, loc="upper left")
right.set(xlabel="iteration", ylabel="f", title="cost against iteration")
right.grid(True, which="both", alpha=0.3)
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Newton reaches $(1, 1)$ in about twenty steps. Steepest descent and momentum go down into the
# valley at once, then creep along its floor; they get there too, given a few thousand
# iterations (`examples/gradient_descent.py` runs 2000). Adam moves each coordinate by at most
# about $\eta = 0.01$ per step, so in 500 steps it cannot travel far: its default learning rate
# suits noisy gradients of large models better than this small, exact problem.
#
# ## Why the valley is hard
#
# Near the minimum $f$ is close to its quadratic Taylor approximation, and the Hessian says how
# curved it is in each direction. At $(1, 1)$ it is
# $H = \begin{pmatrix} 802 & -400 \\ -400 & 200 \end{pmatrix}$, whose eigenvalues differ by a
# factor of about 2500. A fixed step must be below $2/\lambda_{\max}$ to stay stable across the
# valley, and then it is tiny along the valley, where the curvature is $\lambda_{\min}$: gradient
# descent needs on the order of $\lambda_{\max}/\lambda_{\min}$ steps. Newton's method divides by
# the curvature in every direction at once, which is why it finishes in about twenty steps.

# %%
H = tg.hessian(rosenbrock)(np.array([1.0, 1.0])).numpy()
eigenvalues = np.linalg.eigvalsh(H)
print("H(1, 1) =", H.tolist(), " eigenvalues:", eigenvalues)
print(f"condition number: {eigenvalues[-1] / eigenvalues[0]:.0f}")
np.testing.assert_allclose(H, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-14)
np.testing.assert_allclose(eigenvalues, 501 + np.array([-1, 1]) * np.sqrt(301 ** 2 + 400 ** 2),
                           rtol=1e-12)
