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
# # Partial derivatives and the Jacobian
#
# A function of several variables has one partial derivative per variable: $\partial f/\partial x$
# is the ordinary derivative in $x$ with every other variable held fixed. For a map
# $F: \mathbb{R}^n \to \mathbb{R}^m$ they fill the $m \times n$ **Jacobian**
# $J_{ij} = \partial F_i / \partial x_j$: row $i$ is the gradient of output $i$, column $j$ is how
# every output moves when input $j$ moves alone.
#
# Automatic differentiation builds $J$ in one of two ways:
# - **reverse mode** (`tg.jacrev`, `tg.jacobian`): one backward pass per output gives a *row*,
#   $e_i^T J$ (a vector-Jacobian product, `tg.vjp`);
# - **forward mode** (`tg.jacfwd`): one forward pass per input gives a *column*, $J e_j$ (a
#   Jacobian-vector product, `tg.jvp`), carrying derivatives beside values as dual numbers.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg
import tinygrad_mv.forward_ad as fwAD

# %% [markdown]
# ## A map from $\mathbb{R}^2$ to $\mathbb{R}^3$
#
# $$F(x, y) = \begin{pmatrix} x^2 y \\ x + \sin y \\ e^{x - y} \end{pmatrix}, \qquad
# J = \begin{pmatrix} 2xy & x^2 \\ 1 & \cos y \\ e^{x - y} & -e^{x - y} \end{pmatrix}.$$

# %%
def F(p):
    x, y = p[0], p[1]
    return tg.stack([x ** 2 * y, x + tg.sin(y), tg.exp(x - y)])


def J_hand(p):
    x, y = p
    e = np.exp(x - y)
    return np.array([[2 * x * y, x ** 2],
                     [1.0, np.cos(y)],
                     [e, -e]])


p0 = np.array([1.2, -0.7])
print(J_hand(p0))

# %% [markdown]
# ## Reverse mode: row by row
#
# `tg.vjp(F, p0)` evaluates $F$ once and returns a function that maps a cotangent $u$ to
# $u^T J$; feeding it $e_1, e_2, e_3$ gives the three rows. `tg.jacrev` does exactly this.

# %%
out, vjp_fn = tg.vjp(F, p0)
rows = np.stack([vjp_fn(np.eye(3)[i])[0].data for i in range(3)])
J_rev = tg.jacrev(F)(p0).data
print("rows from vjp:\n", rows)

np.testing.assert_allclose(rows, J_hand(p0), rtol=1e-14, atol=1e-15)
np.testing.assert_allclose(J_rev, J_hand(p0), rtol=1e-14, atol=1e-15)
np.testing.assert_allclose(tg.jacobian(F)(p0).data, J_hand(p0), rtol=1e-14, atol=1e-15)
assert J_rev.shape == (3, 2)   # f(x).shape + x.shape

# %% [markdown]
# ## Forward mode: column by column
#
# `tg.jvp(F, (p0,), (v,))` runs $F$ once with a tangent $v$ carried beside every value and
# returns $F(p_0)$ and $Jv$; with $v = e_1, e_2$ it gives the two columns. The same thing by dual
# numbers: inside `fwAD.dual_level()`, `make_dual(p0, v)` is a Tensor with tangent $v$, and
# every operation applies its derivative rule to the tangent as it goes.

# %%
columns = np.stack([tg.jvp(F, (p0,), (np.eye(2)[j],))[1].data for j in range(2)], axis=1)

dual_columns = []
with fwAD.dual_level():
    for j in range(2):
        p = fwAD.make_dual(tg.tensor(p0), tg.tensor(np.eye(2)[j]))
        dual_columns.append(fwAD.unpack_dual(F(p)).tangent.data)
dual_columns = np.stack(dual_columns, axis=1)

J_fwd = tg.jacfwd(F)(p0).data
print("columns from jvp:\n", columns)

for J in (columns, dual_columns, J_fwd):
    np.testing.assert_allclose(J, J_hand(p0), rtol=1e-14, atol=1e-15)
np.testing.assert_allclose(J_fwd, J_rev, rtol=1e-15, atol=1e-15)

# %% [markdown]
# Both modes give the same matrix; what differs is the cost. Reverse mode needs $m$ passes (one
# per output), forward mode $n$ (one per input). A loss over a million parameters ($m = 1$)
# wants reverse mode; a curve $\mathbb{R} \to \mathbb{R}^3$ ($n = 1$) wants forward mode.
#
# ## The gradient of a scalar function
#
# For $m = 1$ the Jacobian is a single row, the gradient. The course's example
# $f(x, y) = x\, e^{-(x^2 + y^2)}$ has
#
# $$\nabla f = e^{-(x^2 + y^2)} \begin{pmatrix} 1 - 2x^2 \\ -2xy \end{pmatrix},$$
#
# which vanishes at $(\pm 1/\sqrt 2, 0)$: the peak and the trough. We compute it on a whole grid
# at once: with the points stacked along the last axis, $\sum_k f(x_k, y_k)$ has the gradient of
# each point's own term as its partial derivatives.

# %%
def f(x, y):
    return x * tg.exp(-(x ** 2 + y ** 2))


def grad_f_hand(x, y):
    e = np.exp(-(x ** 2 + y ** 2))
    return np.stack([(1 - 2 * x ** 2) * e, -2 * x * y * e])


xs, ys = np.meshgrid(np.linspace(-2, 2, 17), np.linspace(-2, 2, 17))
gx, gy = tg.grad(lambda x, y: f(x, y).sum(), argnums=(0, 1))(xs, ys)
np.testing.assert_allclose(np.stack([gx.data, gy.data]), grad_f_hand(xs, ys),
                           rtol=1e-12, atol=1e-15)

for sign in (1, -1):
    stationary = np.array([sign / np.sqrt(2), 0.0])
    g = tg.grad(lambda p: f(p[0], p[1]))(stationary).data
    assert np.max(np.abs(g)) < 1e-15, g
print("grad f matches the hand formula on the grid and vanishes at (±1/√2, 0)")

# %% [markdown]
# The gradient points uphill, perpendicular to the contours, and is longest where they crowd.

# %%
fine_x, fine_y = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-2, 2, 200))
fig, ax = plt.subplots(figsize=(6.5, 5.5))
filled = ax.contourf(fine_x, fine_y, f(tg.Tensor(fine_x), tg.Tensor(fine_y)).data,
                     levels=21, cmap="RdBu_r")
fig.colorbar(filled, ax=ax, label="f(x, y)")
ax.quiver(xs, ys, gx.data, gy.data, color="black", angles="xy", scale=8, width=0.004)
ax.plot([1 / np.sqrt(2), -1 / np.sqrt(2)], [0, 0], "y*", ms=14, mec="black",
        label="∇f = 0")
ax.set(xlabel="x", ylabel="y", aspect="equal",
       title="$f = x\\,e^{-(x^2+y^2)}$ and its gradient (tg.grad)")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# ## The Jacobian as a local stretch: polar coordinates
#
# The course's change of variables $(r, \theta) \mapsto (r\cos\theta, r\sin\theta)$ has
#
# $$J = \begin{pmatrix} \cos\theta & -r\sin\theta \\ \sin\theta & r\cos\theta \end{pmatrix},
# \qquad \det J = r:$$
#
# a small cell $dr\,d\theta$ lands as a cell of area $r\,dr\,d\theta$. The columns of $J$ (from
# `tg.jvp`) are the images of a unit step in $r$ and in $\theta$: tangent to the mapped grid,
# at right angles, the $\theta$ one $r$ times longer.

# %%
def polar(q):
    r, theta = q[0], q[1]
    return tg.stack([r * tg.cos(theta), r * tg.sin(theta)])


q0 = np.array([1.5, np.pi / 6])
r, theta = q0
J_polar = tg.jacfwd(polar)(q0)
np.testing.assert_allclose(J_polar.data, [[np.cos(theta), -r * np.sin(theta)],
                                          [np.sin(theta), r * np.cos(theta)]], rtol=1e-15)
np.testing.assert_allclose(tg.linalg.det(J_polar).item(), r, rtol=1e-14)
np.testing.assert_allclose(tg.jacrev(polar)(q0).data, J_polar.data, rtol=1e-15)

fig, ax = plt.subplots(figsize=(5.5, 5.5))
line = np.linspace(0, 1, 60)
for r_k in np.linspace(0.25, 2, 8):      # circles: r fixed, theta varies
    pts = polar(tg.Tensor(np.stack([np.full(60, r_k), line * np.pi / 2]))).data
    ax.plot(pts[0], pts[1], color="tab:blue", lw=0.8)
for t_k in np.linspace(0, np.pi / 2, 7):  # rays: theta fixed, r varies
    pts = polar(tg.Tensor(np.stack([line * 2, np.full(60, t_k)]))).data
    ax.plot(pts[0], pts[1], color="tab:orange", lw=0.8)
origin = polar(tg.Tensor(q0)).data
step = 0.3   # scale the columns: J times a small step in r or theta
for j, (label, colour) in enumerate((("$J e_r$", "tab:orange"), ("$J e_\\theta$", "tab:blue"))):
    column = tg.jvp(polar, (q0,), (np.eye(2)[j],))[1].data * step
    ax.annotate("", origin + column, origin,
                arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.5))
    ax.text(*(origin + 1.15 * column), label, color=colour, fontsize=12)
ax.set(aspect="equal", xlabel="x", ylabel="y",
       title="the polar grid and the columns of J at (r, θ) = (1.5, π/6)")
plt.show()
