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
# # Taylor series and linearisation
#
# Near a point $a$, a smooth function is close to the polynomial that matches its value and its
# first $n$ derivatives there:
#
# $$T_n(x) = \sum_{k=0}^{n} \frac{f^{(k)}(a)}{k!} (x - a)^k.$$
#
# The more terms, the wider the range where the polynomial follows the function (for functions
# whose series converges there). `tg.taylor(f, a, n)` computes the derivatives
# $f^{(k)}(a)$ by differentiating $f$ over and over (each derivative recorded so that it can be
# differentiated again) and returns $T_n$ as a function; its `.derivatives` and `.coefficients`
# hold $f^{(k)}(a)$ and $f^{(k)}(a)/k!$.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg

# %% [markdown]
# ## Three series from the course
#
# - $e^x$ about 0: every derivative is $e^x$, so the coefficients are $1/k!$.
# - $\cos x$ about 0: the derivatives cycle $\cos, -\sin, -\cos, \sin$, so the coefficients are
#   $1, 0, -\tfrac12, 0, \tfrac1{24}, \dots$ (only even powers).
# - $1/x$ about 1 (it has no series about 0): $f^{(k)}(x) = (-1)^k k!\, x^{-k-1}$, so the
#   coefficients are $(-1)^k$, and the series $1 - (x-1) + (x-1)^2 - \dots$ converges only for
#   $0 < x < 2$.

# %%
series = {
    "exp": (tg.exp, 0.0, lambda k: 1 / math.factorial(k)),
    "cos": (tg.cos, 0.0, lambda k: np.cos(k * np.pi / 2) / math.factorial(k)),
    "1/x": (lambda x: 1 / x, 1.0, lambda k: (-1.0) ** k),
}
top = 8
for name, (f, a, _) in series.items():
    T = tg.taylor(f, a, top)
    print(f"{name} about {a:g}: coefficients",
          ", ".join(f"{c.item() + 0:.6g}" for c in T.coefficients))   # + 0 turns -0 into 0

# %% [markdown]
# The check: the coefficients equal the hand-derived $f^{(k)}(a)/k!$, the derivatives equal
# $f^{(k)}(a)$, and the polynomial's value equals the sum written out with NumPy.

# %%
x_test = np.linspace(0.2, 1.8, 9)
for name, (f, a, coefficient) in series.items():
    T = tg.taylor(f, a, top)
    assert T.order == top and len(T.coefficients) == top + 1
    hand = np.array([coefficient(k) for k in range(top + 1)])
    np.testing.assert_allclose([c.item() for c in T.coefficients], hand, rtol=1e-12, atol=1e-15,
                               err_msg=name)
    np.testing.assert_allclose([d.item() for d in T.derivatives],
                               hand * [math.factorial(k) for k in range(top + 1)],
                               rtol=1e-12, atol=1e-12)
    by_numpy = sum(hand[k] * (x_test - a) ** k for k in range(top + 1))
    np.testing.assert_allclose(T(x_test).data, by_numpy, rtol=1e-12)
print("coefficients, derivatives and values match the hand-derived series")

# %% [markdown]
# ## The polynomials against the functions
#
# Each order hugs the function over a wider range, except where the series cannot converge:
# beyond $x = 2$ the polynomials of $1/x$ swing further away as the order grows.

# %%
orders = [0, 1, 2, 3, 4, 6, 8]
ranges = {"exp": (-3, 3), "cos": (-2 * np.pi, 2 * np.pi), "1/x": (0.15, 2.6)}
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
colours = plt.cm.viridis(np.linspace(0, 0.9, len(orders)))
for ax, (name, (f, a, _)) in zip(axes, series.items()):
    x = np.linspace(*ranges[name], 400)
    y = f(tg.Tensor(x)).data
    ax.plot(x, y, color="black", lw=3, label=name)
    for n, colour in zip(orders, colours):
        ax.plot(x, tg.taylor(f, a, n)(x).data, color=colour, lw=1.3, label=f"order {n}")
    ax.plot(a, f(tg.Tensor(a)).item(), "ko")
    span = y.max() - y.min()
    ax.set(ylim=(y.min() - 0.3 * span, y.max() + 0.3 * span), xlabel="x",
           title=f"Taylor polynomials of {name} about {a:g}")
axes[0].legend(fontsize=8, ncol=2)
axes[2].axvline(2, color="grey", ls=":")
plt.show()

# %% [markdown]
# ## Linearisation of a function of two variables
#
# In several variables the first-order Taylor polynomial is the tangent plane:
#
# $$f(\mathbf{a} + \mathbf{d}) \approx f(\mathbf{a}) + \nabla f(\mathbf{a}) \cdot \mathbf{d}
# \quad\Big(+\ \tfrac12\, \mathbf{d}^T H(\mathbf{a})\, \mathbf{d}\ \text{ at second order}\Big).$$
#
# `tg.linearize(f, a)` returns $f(\mathbf a)$ and a function $\mathbf d \mapsto J \mathbf d$
# (forward mode), which for a scalar $f$ is exactly $\nabla f \cdot \mathbf d$. For
# $f(x, y) = x\, e^{-(x^2 + y^2)}$ the gradient by hand is
# $e^{-(x^2+y^2)}(1 - 2x^2,\ -2xy)$, and the Hessian
# $e^{-(x^2+y^2)}\begin{pmatrix} 4x^3 - 6x & -2y(1 - 2x^2) \\ -2y(1 - 2x^2) & 4xy^2 - 2x
# \end{pmatrix}$.

# %%
def f2(p):
    x, y = p[0], p[1]
    return x * tg.exp(-(x ** 2 + y ** 2))


a = np.array([0.3, 0.5])
x, y = a
e = np.exp(-(x ** 2 + y ** 2))
grad_hand = e * np.array([1 - 2 * x ** 2, -2 * x * y])
hess_hand = e * np.array([[4 * x ** 3 - 6 * x, -2 * y * (1 - 2 * x ** 2)],
                          [-2 * y * (1 - 2 * x ** 2), 4 * x * y ** 2 - 2 * x]])

value, f_jvp = tg.linearize(f2, a)
np.testing.assert_allclose(value.item(), x * e, rtol=1e-15)
for d in np.random.default_rng(0).standard_normal((5, 2)):
    np.testing.assert_allclose(f_jvp(d).item(), grad_hand @ d, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(tg.jvp(f2, (a,), (d,))[1].item(), grad_hand @ d, rtol=1e-13)
np.testing.assert_allclose(tg.grad(f2)(a).data, grad_hand, rtol=1e-14)

T2 = tg.taylor(f2, a, 2)          # for a vector point: value, gradient, Hessian / 2
np.testing.assert_allclose(T2.coefficients[1].data, grad_hand, rtol=1e-14)
np.testing.assert_allclose(T2.coefficients[2].data, hess_hand / 2, rtol=1e-13, atol=1e-15)
print("linearize(f)(d) = grad f . d, and taylor(f, a, 2) holds grad f and H / 2")

# %% [markdown]
# How good is the tangent plane? Step a distance $h$ along a unit vector $\mathbf d$: the error
# of the linear approximation shrinks like $h^2$, since the first term it leaves out is
# $\tfrac12 h^2\, \mathbf d^T H \mathbf d$, and that of the quadratic one like $h^3$. On log-log
# axes the errors become lines of slope 2 and 3. The checks: the slopes fitted over the smallest
# steps, and the linear error divided by $h^2$ against the hand-derived
# $\tfrac12 |\mathbf d^T H \mathbf d|$.

# %%
direction = np.array([0.6, 0.8])
h = np.geomspace(1e-3, 0.5, 30)
points = a + h[:, None] * direction
exact = f2(tg.Tensor(points.T)).data                      # p[0], p[1] index the rows
linear = value.item() + np.array([f_jvp(hk * direction).item() for hk in h])
quadratic = T2(points).data
error1, error2 = np.abs(exact - linear), np.abs(exact - quadratic)
small = h <= 1e-2                  # where the next term of the series is negligible
slope1 = np.polyfit(np.log(h[small]), np.log(error1[small]), 1)[0]
slope2 = np.polyfit(np.log(h[small]), np.log(error2[small]), 1)[0]
print(f"error slopes: linear {slope1:.3f} (expect 2), quadratic {slope2:.3f} (expect 3)")
assert abs(slope1 - 2) < 0.01 and abs(slope2 - 3) < 0.1
np.testing.assert_allclose(error1[0] / h[0] ** 2, abs(direction @ hess_hand @ direction) / 2,
                           rtol=1e-2)

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
X, Y = np.meshgrid(np.linspace(-0.4, 1.0, 150), np.linspace(-0.2, 1.2, 150))
grid = np.stack([X, Y])
levels = value.item() + 0.05 * np.arange(-5, 6)         # f(a) is the middle level
surface = f2(tg.Tensor(grid)).data
plane = value.item() + grad_hand[0] * (X - x) + grad_hand[1] * (Y - y)
left.contour(X, Y, surface, levels=levels, cmap="viridis", linewidths=1)
left.contour(X, Y, plane, levels=levels, cmap="viridis", linewidths=1, linestyles="--")
left.contour(X, Y, surface, levels=[value.item()], colors="black", linewidths=2.5)
left.contour(X, Y, plane, levels=[value.item()], colors="red", linewidths=2, linestyles="--")
left.quiver(x, y, *grad_hand, color="red", angles="xy", scale_units="xy", scale=2)
left.plot(x, y, "ro")
left.set(aspect="equal", xlabel="x", ylabel="y",
         title="contours of f (solid) and of its linearisation (dashed):\n"
               "through a, the tangent line, at right angles to grad f")
right.loglog(h, error1, "o-", ms=3, label=f"linear: slope {slope1:.2f}")
right.loglog(h, error2, "s-", ms=3, label=f"quadratic: slope {slope2:.2f}")
right.set(xlabel="step h", ylabel="|f(a + h d) - approximation|",
          title="the error falls like h² and h³")
right.grid(True, which="both", alpha=0.3)
right.legend()
plt.show()
