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
# # Derivatives and their rules
#
# The derivative of $f$ at $x$ is the slope of its graph there, the limit of rise over run:
#
# $$f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h}.$$
#
# Nobody differentiates from the limit by hand for long: a handful of rules (sum, product,
# quotient, chain) take a formula apart into pieces whose derivatives we know. Automatic
# differentiation applies exactly those rules, one recorded operation at a time, so its answer
# is the exact derivative (up to rounding), not an approximation. In this notebook we check
# `tg.grad` against the hand-derived derivative for each rule, and against finite differences.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg

# %% [markdown]
# ## One function per rule
#
# | rule | $f(x)$ | $f'(x)$ by hand |
# |---|---|---|
# | sum: $(u + v)' = u' + v'$ | $x^3 + \sin x$ | $3x^2 + \cos x$ |
# | product: $(uv)' = u'v + uv'$ | $x^2 \sin x$ | $2x \sin x + x^2 \cos x$ |
# | quotient: $(u/v)' = (u'v - uv')/v^2$ | $e^x / (1 + x^2)$ | $e^x (1 - x)^2 / (1 + x^2)^2$ |
# | chain: $(g(h(x)))' = g'(h(x))\,h'(x)$ | $e^{\sin(x^2)}$ | $e^{\sin(x^2)} \cos(x^2)\, 2x$ |
#
# The functions are written with tinygrad_mv's operations (NumPy's `np.sin` on a Tensor would
# work too); the hand derivatives with plain NumPy.

# %%
rules = {
    "sum": (lambda x: x ** 3 + tg.sin(x),
            lambda x: 3 * x ** 2 + np.cos(x)),
    "product": (lambda x: x ** 2 * tg.sin(x),
                lambda x: 2 * x * np.sin(x) + x ** 2 * np.cos(x)),
    "quotient": (lambda x: tg.exp(x) / (1 + x ** 2),
                 lambda x: np.exp(x) * (1 - x) ** 2 / (1 + x ** 2) ** 2),
    "chain": (lambda x: tg.exp(tg.sin(x ** 2)),
              lambda x: np.exp(np.sin(x ** 2)) * np.cos(x ** 2) * 2 * x),
}
points = [-1.7, -0.3, 0.4, 1.0, 2.2]

# %% [markdown]
# `tg.grad(f)` returns a new function, $f'$. Beside it, the central difference
# $\big(f(x + h) - f(x - h)\big) / 2h$ from `tg.numerical_jacobian`, whose error shrinks like
# $h^2$ (and whose rounding error grows like $1/h$, so it agrees only to about $10^{-9}$).

# %%
print(f"{'rule':>9} {'x':>5} {'tg.grad':>14} {'by hand':>14} {'central diff.':>14}")
for name, (f, df) in rules.items():
    for x in points:
        auto = tg.grad(f)(x).item()
        numeric = tg.numerical_jacobian(f, x).item()
        print(f"{name:>9} {x:5.1f} {auto:14.10f} {df(x):14.10f} {numeric:14.10f}")

# %% [markdown]
# The checks: reverse mode must equal the hand-derived derivative to rounding (relative
# $10^{-12}$), and finite differences must agree with both to their own, much coarser, accuracy.

# %%
for name, (f, df) in rules.items():
    for x in points:
        auto = tg.grad(f)(x).item()
        np.testing.assert_allclose(auto, df(x), rtol=1e-12, atol=1e-14, err_msg=name)
        numeric = tg.numerical_jacobian(f, x).item()
        np.testing.assert_allclose(numeric, df(x), rtol=1e-7, atol=1e-8, err_msg=name)
print("every rule: tg.grad = hand-derived derivative = central differences")

# %% [markdown]
# The rules themselves can be checked too: differentiate the pieces $u = x^2$ and $v = \sin x$
# separately and combine their derivatives by the product rule, or by the chain rule for
# $\sin(x^2) = v(u(x))$.

# %%
u, v = (lambda x: x ** 2), tg.sin
du, dv = tg.grad(u), tg.grad(v)
for x in points:
    product_rule = du(x).item() * np.sin(x) + x ** 2 * dv(x).item()
    assert abs(tg.grad(lambda x: u(x) * v(x))(x).item() - product_rule) < 1e-12
    chain_rule = dv(x ** 2).item() * du(x).item()   # v'(u(x)) u'(x)
    assert abs(tg.grad(lambda x: v(u(x)))(x).item() - chain_rule) < 1e-12
print("product and chain rule hold for the pieces' derivatives")

# %% [markdown]
# ## A function and its derivative
#
# For many points at once, differentiate the *sum* $\sum_i f(x_i)$: each $x_i$ affects only its
# own term, so its partial derivative is $f'(x_i)$. Where $f'$ changes sign, $f$ has a turning
# point; where $f'$ is largest, $f$ climbs fastest. At $x = 0$, $f'$ touches zero without changing
# sign ($f \approx x^3$ there): a stationary inflection.

# %%
f, df = rules["product"]
grid = np.linspace(-5, 5, 401)
slope = tg.grad(lambda x: f(x).sum())(grid).data
np.testing.assert_allclose(slope, df(grid), rtol=1e-12, atol=1e-12)

x0 = 2.0
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(grid, f(tg.Tensor(grid)).data, lw=2, label="$f(x) = x^2 \\sin x$")
ax.plot(grid, slope, lw=2, label="$f'(x)$ by tg.grad")
tangent = f(tg.Tensor(x0)).item() + df(x0) * (grid - x0)
ax.plot(grid, tangent, "k--", lw=1, label=f"tangent at x = {x0}: slope f'({x0})")
turning = grid[:-1][np.sign(slope[:-1]) != np.sign(slope[1:])]
ax.plot(turning, f(tg.Tensor(turning)).data, "ko", ms=5,
        label="f' = 0: turning points (at 0 an inflection)")
ax.axhline(0, color="grey", lw=0.5)
ax.set(xlabel="x", ylim=(-25, 25), title="A function and its derivative")
ax.legend(loc="upper left", fontsize=9)
plt.show()

# %% [markdown]
# ## The chain rule in the computation graph
#
# Every operation is recorded. For $f(x) = e^{\sin(x^2)}$ the graph is a chain of three
# operations, $u = x^2$, $s = \sin u$, $f = e^s$, and `backward()` walks it from the output back
# to $x$, multiplying the local derivatives: $f'(x) = e^{s} \cdot \cos u \cdot 2x$.
# `retain_graph=True` keeps the intermediate values so that the picture can show them.

# %%
x = tg.Tensor(0.8, requires_grad=True, name="x")
u = x ** 2
u.name = "u"
s = tg.sin(u)
s.name = "s"
y = tg.exp(s)
y.name = "f"
y.backward(retain_graph=True)

local = [np.exp(s.item()), np.cos(u.item()), 2 * x.item()]   # df/ds, ds/du, du/dx
print("local derivatives along the chain:", np.round(local, 6))
assert abs(x.grad.item() - np.prod(local)) < 1e-12
assert abs(x.grad.item() - rules["chain"][1](0.8)) < 1e-12
tg.draw_graph(y)

# %% [markdown]
# The same graph drawn backwards: each operation receives the gradient of its output and sends
# to its input that gradient times its local derivative (written on the edge).

# %%
tg.draw_graph(y, backward=True)
