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
# # The Hessian
#
# The gradient of $f: \mathbb{R}^n \to \mathbb{R}$ says which way is uphill; the **Hessian**, the
# matrix of second partial derivatives $H_{ij} = \partial^2 f / \partial x_i \partial x_j$, says
# how the slope itself changes: how the surface curves. It is the Jacobian of the gradient, and
# symmetric for smooth $f$.
#
# At a stationary point ($\nabla f = 0$), $f(x_0 + d) \approx f(x_0) + \tfrac12 d^T H d$, so the
# signs of $H$'s eigenvalues decide what the point is:
# all positive, a **minimum** (the surface curves up in every direction); all negative, a
# **maximum**; mixed signs, a **saddle**.
#
# `tg.hessian(f)` differentiates the gradient `tg.grad(f)` once more: the Jacobian of the gradient.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg

# %% [markdown]
# ## Two functions and their Hessians by hand
#
# The course's $f(x, y) = x^3 - 2xy - y^6$ and a double well $g(x, y) = x^4 + y^4 - 4xy$:
#
# $$H_f = \begin{pmatrix} 6x & -2 \\ -2 & -30y^4 \end{pmatrix}, \qquad
# H_g = \begin{pmatrix} 12x^2 & -4 \\ -4 & 12y^2 \end{pmatrix}.$$

# %%
def f(p):
    x, y = p[0], p[1]
    return x ** 3 - 2 * x * y - y ** 6


def g(p):
    x, y = p[0], p[1]
    return x ** 4 + y ** 4 - 4 * x * y


def H_f(p):
    x, y = p
    return np.array([[6 * x, -2.0], [-2.0, -30 * y ** 4]])


def H_g(p):
    x, y = p
    return np.array([[12 * x ** 2, -4.0], [-4.0, 12 * y ** 2]])


rng = np.random.default_rng(0)
for p in rng.uniform(-1.5, 1.5, size=(5, 2)):
    print(f"at ({p[0]:+.3f}, {p[1]:+.3f}): tg.hessian(f) =",
          np.array2string(tg.hessian(f)(p).data, precision=4).replace("\n", ""))

# %% [markdown]
# Check: `tg.hessian` equals the hand-derived matrices at random points (to rounding), is
# symmetric, and agrees with central differences of the gradient.

# %%
for func, hand in ((f, H_f), (g, H_g)):
    for p in rng.uniform(-1.5, 1.5, size=(10, 2)):
        H = tg.hessian(func)(p).data
        assert H.shape == (2, 2)
        np.testing.assert_allclose(H, hand(p), rtol=1e-13, atol=1e-13)
        np.testing.assert_array_equal(H, H.T)
        numeric = tg.numerical_jacobian(tg.grad(func), p).data
        np.testing.assert_allclose(numeric, hand(p), rtol=1e-6, atol=1e-6)
print("tg.hessian = hand-derived Hessian = finite differences of tg.grad")

# %% [markdown]
# ## Stationary points
#
# Setting the gradients to zero by hand:
# - $f$: $3x^2 = 2y$ and $x = -3y^5$, so $27 y^{10} = 2y$: the origin, and
#   $y_* = (2/27)^{1/9}$, $x_* = -3 y_*^5$.
# - $g$: $x^3 = y$ and $y^3 = x$, so $x^9 = x$: the origin and $\pm(1, 1)$.
#
# `tg.grad` confirms they are stationary; the Hessian's eigenvalues (`np.linalg.eigvalsh`, as
# $H$ is symmetric) classify them.

# %%
y_star = (2 / 27) ** (1 / 9)
stationary = {
    "f": (f, [np.array([0.0, 0.0]), np.array([-3 * y_star ** 5, y_star])]),
    "g": (g, [np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.array([-1.0, -1.0])]),
}


def classify(eigenvalues):
    if np.all(eigenvalues > 0):
        return "minimum"
    if np.all(eigenvalues < 0):
        return "maximum"
    if np.any(eigenvalues > 0) and np.any(eigenvalues < 0):
        return "saddle"
    return "degenerate"


found = {}
for name, (func, points) in stationary.items():
    for p in points:
        grad = tg.grad(func)(p).data
        eig = np.linalg.eigvalsh(tg.hessian(func)(p).data)
        found[name, tuple(np.round(p, 3))] = (classify(eig), eig)
        print(f"{name} at ({p[0]:+.4f}, {p[1]:+.4f}): |grad| = {np.abs(grad).max():.1e}, "
              f"eigenvalues {np.round(eig, 3)} -> {classify(eig)}")
        assert np.abs(grad).max() < 1e-12

# %% [markdown]
# The check: the hand-derived eigenvalues. At the origin both Hessians are
# $\begin{pmatrix} 0 & -c \\ -c & 0 \end{pmatrix}$ with eigenvalues $\pm c$: saddles. At $\pm(1,1)$,
# $H_g$ has eigenvalues $12 \pm 4 = 8, 16$: minima. At $f$'s second point the trace is negative
# and the determinant positive, so both eigenvalues are negative: a maximum. The course's
# shortcut says the same: $\det H > 0$ and $H_{xx} > 0$ a minimum, $\det H > 0$ and $H_{xx} < 0$
# a maximum, $\det H < 0$ a saddle.

# %%
expected = {("f", (0.0, 0.0)): ("saddle", [-2, 2]),
            ("g", (0.0, 0.0)): ("saddle", [-4, 4]),
            ("g", (1.0, 1.0)): ("minimum", [8, 16]),
            ("g", (-1.0, -1.0)): ("minimum", [8, 16])}
for key, (kind, eig) in expected.items():
    assert found[key][0] == kind, (key, found[key])
    np.testing.assert_allclose(found[key][1], eig, rtol=1e-14, atol=1e-14)

x_star = -3 * y_star ** 5
H_max = H_f([x_star, y_star])
assert np.trace(H_max) < 0 < np.linalg.det(H_max)
assert found["f", tuple(np.round([x_star, y_star], 3))][0] == "maximum"
np.testing.assert_allclose(found["f", tuple(np.round([x_star, y_star], 3))][1],
                           np.linalg.eigvalsh(H_max), rtol=1e-13)
print("classification = hand-derived eigenvalue signs")

# %% [markdown]
# ## The picture
#
# Contours with each stationary point labelled by its eigenvalue signs. Near a minimum or
# maximum the contours are closed ellipses (their axes along the eigenvectors); near a saddle
# they cross, the surface rising along one eigenvector and falling along the other.

# %%
symbols = {"minimum": ("o", "lime"), "maximum": ("^", "red"), "saddle": ("X", "yellow")}
fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
panels = (("f", f, "$f = x^3 - 2xy - y^6$", (-1.6, 1.1), (-1.3, 1.3)),
          ("g", g, "$g = x^4 + y^4 - 4xy$", (-1.8, 1.8), (-1.8, 1.8)))
for ax, (name, func, title, xlim, ylim) in zip(axes, panels):
    X, Y = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    Z = func(tg.Tensor(np.stack([X, Y]))).data   # p[0], p[1] index the stacked grids
    levels = np.quantile(Z, np.linspace(0.02, 0.98, 25))
    filled = ax.contourf(X, Y, Z, levels=levels, cmap="viridis", extend="both")
    ax.contour(X, Y, Z, levels=levels, colors="white", linewidths=0.4)
    fig.colorbar(filled, ax=ax, format="%.2g")
    for p in stationary[name][1]:
        kind, eig = found[name, tuple(np.round(p, 3))]
        marker, colour = symbols[kind]
        signs = "(" + ", ".join("+" if e > 0 else "−" for e in eig) + ")"
        ax.plot(*p, marker, color=colour, mec="black", ms=12)
        right = p[0] > 0.5   # keep the label inside the axes
        ax.annotate(f"{kind} {signs}", p, xytext=(-10 if right else 10, 10),
                    textcoords="offset points", ha="right" if right else "left",
                    color="white", fontsize=11, weight="bold",
                    bbox=dict(boxstyle="round", fc="black", alpha=0.45, lw=0))
    ax.set(title=title, xlabel="x", ylabel="y", xlim=xlim, ylim=ylim)
plt.show()
