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
# # Newton-Raphson: roots from tangent lines
#
# To solve $f(x) = 0$, replace $f$ near the current guess $x_k$ by its tangent line
# $f(x_k) + f'(x_k)(x - x_k)$ and jump to where that line crosses zero:
#
# $$x_{k+1} = x_k - \frac{f(x_k)}{f'(x_k)}.$$
#
# Close to a simple root the number of correct digits roughly doubles every step. Far from one,
# the tangent can send you anywhere, including round in circles. The only derivative needed is
# $f'(x_k)$, and here reverse mode supplies it: `tg.optimize.newton_raphson` differentiates $f$
# itself, so nothing is derived by hand.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg


def f(x):
    return x ** 3 - 2 * x + 2


# %% [markdown]
# Where does the derivative come from? One evaluation of $f$ records a small graph, and
# `backward()` walks it in reverse: at $x = -2$ it gives $f'(-2) = 3 \cdot 4 - 2 = 10$.

# %%
x = tg.Tensor(-2.0, requires_grad=True, name="x")
y = f(x)
y.backward(retain_graph=True)
tg.draw_graph(y)

# %% [markdown]
# ## One dimension: $f(x) = x^3 - 2x + 2$
#
# This cubic has one real root, near $-1.77$. Starting from $x_0 = -2$:

# %%
result = tg.optimize.newton_raphson(f, -2.0)
print(result)
for k, xk in enumerate(result.path):
    print(f"x_{k} = {xk:+.15f}   f(x_{k}) = {f(xk):+.2e}")

# %% [markdown]
# **Check.** The root agrees with the real root of the polynomial from `np.roots` (the
# eigenvalues of its companion matrix, a method that shares nothing with Newton), and every
# iterate is exactly one Newton step from the one before, $x_k - f(x_k)/f'(x_k)$ with $f'$ from
# `tg.grad`. We also confirm `tg.grad` against the hand derivative $f'(x) = 3x^2 - 2$.

# %%
roots = np.roots([1.0, 0.0, -2.0, 2.0])
real_root = roots[np.abs(roots.imag) < 1e-12].real
assert real_root.shape == (1,)
np.testing.assert_allclose(result.x, real_root[0], rtol=1e-13)
assert result.success and result.nit == 4
assert abs(f(result.x)) <= 1e-10

df = tg.grad(f)
for xk, xnext in zip(result.path[:-1], result.path[1:]):
    slope = df(xk).item()
    np.testing.assert_allclose(slope, 3 * xk ** 2 - 2, rtol=1e-14)
    np.testing.assert_allclose(xnext, xk - f(xk) / slope, rtol=1e-14)
print("root from np.roots:", real_root[0], " from Newton:", result.x)

# %% [markdown]
# ## When Newton cycles
#
# From $x_0 = 0$: $f(0) = 2$, $f'(0) = -2$, so $x_1 = 0 - 2/(-2) = 1$. Then $f(1) = 1$,
# $f'(1) = 1$, so $x_2 = 1 - 1 = 0$: back where we started, for ever. `newton_raphson` does not
# return a wrong "root" after `max_iter` steps: it raises `ConvergenceError`, and the iterates
# are kept on the exception's `.result`.

# %%
try:
    tg.optimize.newton_raphson(f, 0.0, max_iter=8)
    raise AssertionError("Newton from 0 should not converge")
except tg.optimize.ConvergenceError as exc:
    cycle = exc.result
    print(exc)
print("iterates:", cycle.path)

# %% [markdown]
# **Check.** The iterates alternate exactly between 0 and 1, as the hand computation above says,
# and the run is marked unsuccessful.

# %%
expected = np.array([0.0, 1.0] * 4 + [0.0])
np.testing.assert_array_equal(cycle.path, expected)
assert not cycle.success

# %% [markdown]
# The picture: each tangent (solid) runs from $(x_k, f(x_k))$ down to the axis at $x_{k+1}$; the
# dotted line climbs back to the curve. On the left the steps home in on the root; on the right
# they bounce between 0 and 1.


# %%
def draw_steps(ax, path, colour):
    for a, b in zip(path[:-1], path[1:]):
        ax.plot([a, b], [f(a), 0.0], color=colour, lw=1.2)     # tangent at a, down to the axis
        ax.plot([b, b], [0.0, f(b)], color=colour, lw=0.8, ls=":")
    ax.plot(path, f(path), "o", color=colour, ms=5, zorder=3)


fig, axes = plt.subplots(1, 2, figsize=(11, 4))
panels = [(axes[0], result.path, "tab:blue", (-2.1, -1.6), f"from $x_0=-2$: {result.nit} steps"),
          (axes[1], cycle.path, "tab:red", (-2.3, 1.8), "from $x_0=0$: a 2-cycle")]
for ax, path, colour, (lo, hi), title in panels:
    grid = np.linspace(lo, hi, 300)
    ax.plot(grid, f(grid), "k", lw=1.5, label="$f(x)=x^3-2x+2$")
    ax.axhline(0.0, color="grey", lw=0.8)
    draw_steps(ax, np.asarray(path), colour)
    ax.set(title=title, xlabel="x")
    ax.legend(loc="upper left", fontsize=8)
axes[0].set_ylabel("f(x)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Several dimensions: a system of two equations
#
# For $\mathbf f(\mathbf x) = \mathbf 0$ with $\mathbf x \in \mathbb R^n$ the tangent line becomes
# the tangent plane $\mathbf f(\mathbf x_k) + J(\mathbf x_k)(\mathbf x - \mathbf x_k)$, with $J$
# the Jacobian, and the step solves a linear system:
#
# $$\mathbf x_{k+1} = \mathbf x_k - J(\mathbf x_k)^{-1} \mathbf f(\mathbf x_k).$$
#
# Take the circle $x^2 + y^2 = 4$ and the hyperbola $xy = 1$. Substituting $y = 1/x$ gives
# $x^4 - 4x^2 + 1 = 0$, so $x^2 = 2 \pm \sqrt 3$: the root in the first quadrant with $x > y$ is
# $x = \sqrt{2 + \sqrt 3}$, $y = \sqrt{2 - \sqrt 3}$. There are four roots, one per start below.
# The default tolerance (`tol=1e-10`) stops once a Newton step would move $\mathbf x$ by at most
# $10^{-10}$ relative, here with $\max|\mathbf f|$ still up to $10^{-11}$; asking for $10^{-14}$
# costs one more (quadratically convergent) step and gives the roots to full precision.


# %%
def F(v):
    return tg.stack([v[0] ** 2 + v[1] ** 2 - 4, v[0] * v[1] - 1])


starts = [(2.0, 0.0), (0.2, 1.5), (-1.0, -2.0), (-2.5, 1.0)]
solutions = [tg.optimize.newton_raphson(F, s, tol=1e-14) for s in starts]
for s, sol in zip(starts, solutions):
    print(f"from {s}: x = {sol.x}, {sol.nit} steps, max |f| = {sol.residual:.1e}")

# %% [markdown]
# **Check.** The four roots are $\pm(a, b)$ and $\pm(b, a)$ with $a = \sqrt{2+\sqrt3}$,
# $b = \sqrt{2-\sqrt3}$. Each step is $\mathbf x_k - J^{-1}\mathbf f$ with $J$ from
# `tg.jacobian` (reverse mode, one backward pass per equation), and that $J$ equals the hand
# Jacobian $\begin{pmatrix} 2x & 2y \\ y & x \end{pmatrix}$.

# %%
a, b = np.sqrt(2 + np.sqrt(3)), np.sqrt(2 - np.sqrt(3))
known = [(a, b), (b, a), (-b, -a), (-a, -b)]
for sol, root in zip(solutions, known):
    assert sol.success
    np.testing.assert_allclose(sol.x, root, rtol=1e-14)

jac = tg.jacobian(F)
for sol in solutions:
    for xk, xnext in zip(sol.path[:-1], sol.path[1:]):
        J = jac(xk).numpy()
        np.testing.assert_allclose(J, [[2 * xk[0], 2 * xk[1]], [xk[1], xk[0]]], rtol=1e-14)
        np.testing.assert_allclose(xnext, xk - np.linalg.solve(J, F(xk).numpy()),
                                   rtol=1e-13, atol=1e-15)
print("roots match the closed form; every step is x - J^-1 f")

# %% [markdown]
# The paths over the two zero contours: the roots are where the circle meets the hyperbola.
# Each Newton step aims at the crossing of the two tangent lines, so the first steps can be long
# and the last ones invisible.

# %%
xs, ys = np.meshgrid(np.linspace(-3, 3, 301), np.linspace(-3, 3, 301))
fig, ax = plt.subplots(figsize=(6, 6))
ax.contour(xs, ys, xs ** 2 + ys ** 2 - 4, levels=[0], colors="tab:green")
ax.contour(xs, ys, xs * ys - 1, levels=[0], colors="tab:purple")
ax.plot([], [], color="tab:green", label="$x^2+y^2-4=0$")
ax.plot([], [], color="tab:purple", label="$xy-1=0$")
for sol in solutions:
    ax.plot(sol.path[:, 0], sol.path[:, 1], "o-", ms=4, lw=1)
    ax.plot(*sol.path[0], "ks", ms=5)
ax.plot(*np.array(known).T, "k*", ms=12, label="roots (closed form)")
ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="x", ylabel="y", aspect="equal",
       title="Newton-Raphson paths (squares: starts)")
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %% [markdown]
# Which root you get depends on where you start. A start where $J$ is singular (on the lines
# $x = \pm y$, where $\det J = 2x^2 - 2y^2 = 0$: the tangent lines are parallel) has no Newton
# step at all, and `newton_raphson` says so with `tg.optimize.SingularJacobianError` instead of
# dividing by zero.

# %%
try:
    tg.optimize.newton_raphson(F, [1.0, 1.0])
    raise AssertionError("J is singular at (1, 1): no Newton step exists")
except tg.optimize.SingularJacobianError as exc:
    print(str(exc).split(" (condition")[0])
