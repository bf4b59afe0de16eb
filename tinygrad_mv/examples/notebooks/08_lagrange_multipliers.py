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
# # Lagrange multipliers: optimising on a curve
#
# To find the largest or smallest value of $f(x, y)$ on a curve $g(x, y) = 0$, walk along the
# curve: $f$ stops changing where the curve runs along a contour of $f$. There the contour of
# $f$ and the curve touch, so their normals, $\nabla f$ and $\nabla g$, are parallel:
#
# $$\nabla f = \lambda \nabla g, \qquad g = 0.$$
#
# These are three equations for $x$, $y$ and the multiplier $\lambda$: exactly
# $\nabla \mathcal L = \mathbf 0$ for the Lagrangian $\mathcal L(x, y, \lambda) = f - \lambda g$.
# `tg.optimize.lagrange` solves them by Newton-Raphson on $\nabla \mathcal L$, taking both
# $\nabla\mathcal L$ and its Jacobian (the bordered Hessian) from reverse mode.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg

# %% [markdown]
# ## The course's example: $f = x^2 y$ on the circle $x^2 + y^2 = 1$
#
# By hand: $\nabla f = (2xy,\ x^2)$ and $\nabla g = (2x,\ 2y)$ for $g = x^2 + y^2 - 1$.
# The first component gives $2xy = 2\lambda x$, so $x = 0$ or $y = \lambda$.
#
# - $x = 0$: then $x^2 = 2\lambda y$ forces $\lambda = 0$, and $y = \pm 1$: $f = 0$.
# - $y = \lambda$: then $x^2 = 2y^2$, and the circle gives $3y^2 = 1$, so
#   $y = \pm 1/\sqrt 3$, $x = \pm\sqrt{2/3}$, $f = \pm 2/(3\sqrt 3) \approx \pm 0.385$.
#
# Six stationary points in all. Newton finds the one its start leads to, so we start near each.


# %%
def f(v):
    return v[0] ** 2 * v[1]


def g(v):
    return v[0] ** 2 + v[1] ** 2 - 1


starts = [(1.0, 0.8), (-1.0, 0.8), (1.0, -0.8), (-1.0, -0.8), (0.2, 1.2), (0.2, -1.2)]
points = [tg.optimize.lagrange(f, g, s, tol=1e-13) for s in starts]
for s, res in zip(starts, points):
    print(f"from {s}: x = {np.round(res.x, 10)}, lambda = {res.multipliers[0]:+.10f}, "
          f"f = {res.fun:+.10f} ({res.kind})")

# %% [markdown]
# **Check.** Every point lies on the circle, $\nabla f = \lambda \nabla g$ holds there (with the
# gradients recomputed here by `tg.grad` and by hand, not taken from the solver), and the points
# and multipliers are the hand-derived ones. Sampling $f$ all round the circle confirms that
# $2/(3\sqrt3)$ and $-2/(3\sqrt3)$ are its largest and smallest values.

# %%
a, b = np.sqrt(2 / 3), 1 / np.sqrt(3)
expected = [  # (x, y, lambda, kind)
    (a, b, b, "maximum"), (-a, b, b, "maximum"), (a, -b, -b, "minimum"), (-a, -b, -b, "minimum"),
    (0.0, 1.0, 0.0, "minimum"), (0.0, -1.0, 0.0, "maximum")]
grad_f, grad_g = tg.grad(f), tg.grad(g)
for res, (x, y, lam, kind) in zip(points, expected):
    assert res.success and res.kind == kind
    np.testing.assert_allclose(res.x, [x, y], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(res.multipliers, [lam], rtol=1e-13, atol=1e-13)
    assert abs(g(res.x)) <= 1e-13
    gf, gg = grad_f(res.x).numpy(), grad_g(res.x).numpy()
    np.testing.assert_allclose(gf, [2 * res.x[0] * res.x[1], res.x[0] ** 2], atol=1e-15)
    np.testing.assert_allclose(gg, 2 * res.x, atol=1e-15)
    np.testing.assert_allclose(gf, res.multipliers[0] * gg, atol=1e-13)

t = np.linspace(0, 2 * np.pi, 100_001)
on_circle = np.cos(t) ** 2 * np.sin(t)
np.testing.assert_allclose([on_circle.max(), on_circle.min()], [2 / (3 * np.sqrt(3)),
                                                                -2 / (3 * np.sqrt(3))], rtol=1e-8)
assert on_circle.max() <= points[0].fun + 1e-15
print("f_max on the circle =", points[0].fun, "= 2 / (3 sqrt 3) =", 2 / (3 * np.sqrt(3)))

# %% [markdown]
# The constraint over the contours of $f$, with the stationary points and, at each, $\nabla g$
# (thin green), $\nabla f$ (thick red) and $\lambda\nabla g$ (dashed blue, drawn on top of
# $\nabla f$: they coincide). At the maxima $\lambda > 0$ and $\nabla f$ points outwards, the way
# $f$ would grow if the circle were let out; at the minima it points inwards. At $(0, \pm 1)$
# both $\nabla f$ and $\lambda$ vanish: $f$ is flat there, a local minimum and maximum
# along the circle.


# %%
def draw_gradients(ax, res, scale):
    x, y = res.x
    lam = res.multipliers[0]
    for vec, style in [(res.grad_g[0], {"color": "tab:green", "lw": 1.0}),
                       (res.grad_f, {"color": "tab:red", "lw": 3.5}),
                       (lam * res.grad_g[0], {"color": "tab:blue", "lw": 1.5, "ls": "--"})]:
        if np.linalg.norm(vec) > 1e-9:
            ax.annotate("", (x + scale * vec[0], y + scale * vec[1]), (x, y),
                        arrowprops={"arrowstyle": "->", **style})


def draw_legend(ax):
    ax.plot([], [], color="tab:green", lw=1, label=r"$\nabla g$")
    ax.plot([], [], color="tab:red", lw=3.5, label=r"$\nabla f$")
    ax.plot([], [], color="tab:blue", lw=1.5, ls="--", label=r"$\lambda\nabla g$")
    ax.legend(fontsize=8, loc="lower left")


xs, ys = np.meshgrid(np.linspace(-1.7, 1.7, 241), np.linspace(-1.7, 1.7, 241))
angle = np.linspace(0, 2 * np.pi, 400)
fig, ax = plt.subplots(figsize=(6.5, 6.5))
cs = ax.contour(xs, ys, xs ** 2 * ys, levels=np.linspace(-1.0, 1.0, 21), cmap="coolwarm",
                linewidths=0.8)
ax.clabel(cs, fontsize=7, fmt="%.1f")
ax.plot(np.cos(angle), np.sin(angle), color="tab:green", lw=2, label="$x^2 + y^2 = 1$")
for res in points:
    ax.plot(*res.x, "o", color="black" if res.kind == "maximum" else "purple", ms=7)
    along = 28 * np.array([res.x[1], -res.x[0]])   # label along the circle, clear of arrows
    ax.annotate(f"{round(res.fun, 3) + 0.0:+.3f}", res.x, xytext=along,
                textcoords="offset points", ha="center", va="center", fontsize=8)
    draw_gradients(ax, res, 0.35)
ax.plot([], [], "o", color="black", label="maximum (value of f)")
ax.plot([], [], "o", color="purple", label="minimum (value of f)")
draw_legend(ax)
ax.set(xlim=(-1.7, 1.7), ylim=(-1.7, 1.7), aspect="equal", xlabel="x", ylabel="y",
       title="$f = x^2 y$ on the unit circle: six stationary points")
plt.show()

# %% [markdown]
# ## On an ellipse: $f = x + y$ on $x^2/4 + y^2 = 1$
#
# The contours of $f$ are straight lines; the extremes are where one of them just touches the
# ellipse. By hand: $(1, 1) = \lambda (x/2,\ 2y)$ gives $x = 2/\lambda$, $y = 1/(2\lambda)$;
# putting these into the constraint, $\frac{1}{\lambda^2}\left(1 + \frac14\right) = 1$, so
# $\lambda = \pm\sqrt5/2$, $(x, y) = \pm(4/\sqrt5,\ 1/\sqrt5)$ and $f = \pm\sqrt 5$.


# %%
def f2(v):
    return v[0] + v[1]


def g2(v):
    return v[0] ** 2 / 4 + v[1] ** 2 - 1


top = tg.optimize.lagrange(f2, g2, [1.5, 0.5], tol=1e-13)
bottom = tg.optimize.lagrange(f2, g2, [-1.5, -0.5], tol=1e-13)
print(top, bottom, sep="\n")

# %% [markdown]
# **Check.** The hand solution, $\nabla f = \lambda\nabla g$ with $\nabla g = (x/2,\ 2y)$, and
# the kinds.

# %%
for res, sign in [(top, 1), (bottom, -1)]:
    np.testing.assert_allclose(res.x, sign * np.array([4, 1]) / np.sqrt(5), rtol=1e-14)
    np.testing.assert_allclose(res.multipliers, [sign * np.sqrt(5) / 2], rtol=1e-14)
    np.testing.assert_allclose(res.fun, sign * np.sqrt(5), rtol=1e-14)
    x, y = res.x
    np.testing.assert_allclose([1.0, 1.0], res.multipliers[0] * np.array([x / 2, 2 * y]),
                               rtol=1e-13)
    np.testing.assert_allclose(tg.grad(g2)(res.x).numpy(), [x / 2, 2 * y], rtol=1e-15)
assert (top.kind, bottom.kind) == ("maximum", "minimum")

# %%
xs, ys = np.meshgrid(np.linspace(-2.6, 2.6, 200), np.linspace(-1.6, 1.6, 200))
fig, ax = plt.subplots(figsize=(8, 5))
cs = ax.contour(xs, ys, xs + ys, levels=np.linspace(-4, 4, 17), cmap="coolwarm", linewidths=0.8)
ax.clabel(cs, fontsize=7, fmt="%.1f")
ax.plot(2 * np.cos(angle), np.sin(angle), color="tab:green", lw=2, label="$x^2/4 + y^2 = 1$")
for res in (top, bottom):
    ax.plot(*res.x, "ko", ms=7)
    ax.plot(res.path[:, 0], res.path[:, 1], ":", color="grey")
    draw_gradients(ax, res, 0.5)
draw_legend(ax)
ax.set(aspect="equal", xlabel="x", ylabel="y",
       title=r"$x + y$ on $x^2/4 + y^2 = 1$: extremes $\pm\sqrt{5}$")
plt.show()

# %% [markdown]
# The multiplier has a meaning of its own: it is how fast the optimum value changes when the
# constraint is relaxed. Replacing $g = 0$ by $g = c$ (the ellipse $x^2/4 + y^2 = 1 + c$) changes
# the maximum at the rate $\mathrm d f^* / \mathrm d c = \lambda$. A quick finite-difference check:

# %%
c = 1e-6
wider = tg.optimize.lagrange(f2, lambda v: g2(v) - c, [1.5, 0.5], tol=1e-13)
rate = (wider.fun - top.fun) / c
print(f"d f*/dc = {rate:.6f}, lambda = {top.multipliers[0]:.6f}")
np.testing.assert_allclose(rate, top.multipliers[0], rtol=1e-5)
