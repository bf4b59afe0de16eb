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
# # The multivariate chain rule and backpropagation
#
# When $f$ depends on $t$ through several intermediate variables, their contributions add:
#
# $$\frac{df}{dt} = \sum_i \frac{\partial f}{\partial x_i} \frac{dx_i}{dt}
# = \nabla f \cdot \frac{d\mathbf{x}}{dt}.$$
#
# Backpropagation is this rule applied to a neural network, starting from the cost and working
# back one layer at a time, so that each layer reuses what the layer above has computed. Reverse
# mode automatic differentiation does the same bookkeeping for any recorded computation.

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mv as tg
from tinygrad_mv import datasets
from tinygrad_mv.apps import curve

# %% [markdown]
# ## Warming up: a total derivative
#
# The course's example: $f(x, y, z) = \sin(x)\, e^{y z^2}$ along the path $x = t - 1$,
# $y = t^2$, $z = 1/t$. Term by term, $\nabla f = e^{yz^2}(\cos x,\ z^2 \sin x,\ 2yz \sin x)$ and
# $d\mathbf{x}/dt = (1, 2t, -1/t^2)$. Substituting first is a shortcut here: $y z^2 = 1$, so
# $f(t) = e \sin(t - 1)$ and $df/dt = e \cos(t - 1)$.

# %%
def f(p):
    x, y, z = p[0], p[1], p[2]
    return tg.sin(x) * tg.exp(y * z ** 2)


def path(t):
    return tg.stack([t - 1, t ** 2, 1 / t])


for t0 in (0.5, 1.3, 2.0):
    whole = tg.grad(lambda t: f(path(t)))(t0).item()               # reverse mode through both
    grad_f = tg.grad(f)(path(tg.Tensor(t0)).data).data             # the partial derivatives
    velocity = tg.jacfwd(path)(t0).data                            # dx/dt by forward mode
    print(f"t = {t0}: df/dt = {whole:.12f}, grad f . dx/dt = {grad_f @ velocity:.12f}")
    np.testing.assert_allclose(whole, np.e * np.cos(t0 - 1), rtol=1e-13)
    np.testing.assert_allclose(grad_f @ velocity, np.e * np.cos(t0 - 1), rtol=1e-13)

# %% [markdown]
# ## The course's network
#
# The 1-6-7-2 network takes a number $t \in [0, 1]$ and returns a point $(x, y)$; trained on the
# points of a heart, it learns to draw it. Each layer is a linear map and the logistic sigmoid:
#
# $$a^{(0)} = t, \quad z^{(L)} = W^{(L)} a^{(L-1)} + b^{(L)}, \quad a^{(L)} = \sigma(z^{(L)}),
# \qquad C = \frac1N \sum_{i=1}^N \lVert a^{(3)}_i - y_i \rVert^2.$$
#
# `curve.make_network` builds it from `tg.nn.Linear` and `tg.nn.Sigmoid` layers (seeded); a
# `Linear` layer stores $W$ as (outputs, inputs), as the course does, and works on rows:
# `a @ W.T + b`, the transpose of the course's $W a + b$ with one column per point.

# %%
t, xy = datasets.curve("heart")       # t (100, 1) in [0, 1], xy (100, 2) the heart's points
N = len(t)
model = curve.make_network(seed=0)
layers = [model[0], model[2], model[4]]
for k, layer in enumerate(layers, start=1):
    layer.weight.name, layer.bias.name = f"W{k}", f"b{k}"
print(model)


def forward(model, t):
    """The network, one labelled cluster per layer in graph pictures."""
    a = t
    for k, layer in enumerate(layers, start=1):
        with tg.viz.scope(f"layer {k}"):
            a = tg.sigmoid(layer(a))
        a.name = f"a{k}"
    return a


def cost(model, t, xy):
    with tg.viz.scope("cost"):
        C = tg.nn.SSELoss()(forward(model, t), xy) / len(t)
    C.name = "C"
    return C

# %% [markdown]
# ## Its computation graph
#
# Drawn on four points to keep the picture small; after `backward()` every weight and bias
# shows its gradient (values as min, mean and max when there are more than four).

# %%
t4, xy4 = datasets.curve("heart", 4)
t4, xy4 = tg.Tensor(t4, name="t"), tg.Tensor(xy4, name="y")
C4 = cost(model, t4, xy4)
C4.backward(retain_graph=True)
tg.draw_graph(C4, rankdir="TB", constants=[t4, xy4])

# %% [markdown]
# ## The Jacobians by hand
#
# The chain rule for the last layer's weights, with $\sigma'(z) = \cosh^{-2}(z/2)/4$:
#
# $$J_{W^{(3)}} = \frac{\partial C}{\partial W^{(3)}} =
# \frac{\partial C}{\partial a^{(3)}} \frac{\partial a^{(3)}}{\partial z^{(3)}}
# \frac{\partial z^{(3)}}{\partial W^{(3)}}
# = \frac{2}{N} \sum_i \big(a^{(3)} - y\big) \odot \sigma'(z^{(3)})\, a^{(2)T}.$$
#
# Call $\delta^{(3)} = \tfrac2N (a^{(3)} - y) \odot \sigma'(z^{(3)})$ (one column per point). One
# layer down, $z^{(3)}$ depends on $a^{(2)}$ through $W^{(3)}$, so
# $\delta^{(2)} = (W^{(3)T} \delta^{(3)}) \odot \sigma'(z^{(2)})$ and
# $J_{W^{(2)}} = \delta^{(2)} a^{(1)T}$; and so on to $W^{(1)}$. The biases take
# $J_{b} = \sum_i \delta_i$. Written in NumPy, in the course's column convention:

# %%
def sigma(z):
    return 1 / (1 + np.exp(-z))


def d_sigma(z):
    return np.cosh(z / 2) ** (-2) / 4


def hand_jacobians(model, t, xy):
    W = [layer.weight.data for layer in layers]
    b = [layer.bias.data[:, None] for layer in layers]   # biases as columns
    a0, y = t.T, xy.T                                       # one column per point
    z1 = W[0] @ a0 + b[0]
    a1 = sigma(z1)
    z2 = W[1] @ a1 + b[1]
    a2 = sigma(z2)
    z3 = W[2] @ a2 + b[2]
    a3 = sigma(z3)
    delta3 = 2 * (a3 - y) * d_sigma(z3) / len(t)
    delta2 = (W[2].T @ delta3) * d_sigma(z2)
    delta1 = (W[1].T @ delta2) * d_sigma(z1)
    jacobians = {"W3": delta3 @ a2.T, "b3": delta3.sum(axis=1),
                 "W2": delta2 @ a1.T, "b2": delta2.sum(axis=1),
                 "W1": delta1 @ a0.T, "b1": delta1.sum(axis=1)}
    return np.linalg.norm(a3 - y) ** 2 / len(t), jacobians

# %% [markdown]
# Reverse mode: one `backward()` fills every parameter's `.grad`. The check: each equals the
# hand-derived Jacobian to $10^{-12}$ (relative).

# %%
model.zero_grad()                 # clear the picture's gradients (backward adds up)
C = cost(model, tg.Tensor(t), tg.Tensor(xy))
C.backward()
hand_cost, hand = hand_jacobians(model, t, xy)
np.testing.assert_allclose(C.item(), hand_cost, rtol=1e-14)
for layer in layers:
    for p in (layer.weight, layer.bias):
        difference = np.abs(p.grad.data - hand[p.name]).max()
        print(f"dC/d{p.name} {str(p.shape):>7}: largest |reverse - hand| = {difference:.1e}")
        np.testing.assert_allclose(p.grad.data, hand[p.name], rtol=1e-12, atol=1e-18)

# %% [markdown]
# ## Training
#
# With the gradients in hand, training is a loop: evaluate the cost, `backward()`, step. Adam
# (`tg.optim.Adam`) scales each weight's step by a running estimate of its gradient's size,
# which gets this network off the sigmoids' plateaus much faster than plain steepest descent.
# We keep the curve drawn at a few stages.

# %%
steps, stages = 500, (0, 100, 200, 500)
inputs, targets = tg.Tensor(t), tg.Tensor(xy)
dense_t = np.linspace(0, 1, 300)[:, None]
optimizer = tg.optim.Adam(model.parameters(), lr=0.05)
costs, drawn = [], {}
for step in range(steps + 1):
    if step in stages:
        with tg.no_grad():
            drawn[step] = forward(model, tg.Tensor(dense_t)).data
    optimizer.zero_grad()
    C = cost(model, inputs, targets)
    costs.append(C.item())
    if step < steps:
        C.backward()
        optimizer.step()
print(f"cost: {costs[0]:.4f} at the start, {costs[-1]:.2e} after {steps} Adam steps")

assert costs[-1] < costs[0] / 50
assert min(costs[-50:]) < 2e-3

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
left.plot(xy[:, 0], xy[:, 1], "o", color="black", ms=3, label="target points")
for step, colour in zip(stages, ("tab:grey", "tab:orange", "tab:purple", "tab:red")):
    left.plot(drawn[step][:, 0], drawn[step][:, 1], color=colour, lw=2,
              label=f"network after {step} steps")
left.set(aspect="equal", xlim=(0, 1), ylim=(0, 1), title="the curve the network draws")
left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=9)
right.semilogy(costs)
right.set(xlabel="step", ylabel="cost C", title="the cost against steps (Adam, lr 0.05)")
right.grid(True, which="both", alpha=0.3)
plt.show()
