# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Capacity planning with accelsim
#
# A capacity planner's walk through the Python API, small enough to run in well under a minute:
#
# 1. **fit** — does the model fit in the memory of one server of each card?
# 2. **simulate a trace** — replay a slice of the Azure 2023 conversation trace on a deployment;
# 3. **compare devices** — the same model and traffic on two cards, side by side;
# 4. **what-if** — how the answers move when one catalog number changes;
# 5. **size a cluster** — the fewest cards that meet the latency SLOs at a target load;
# 6. **cost it with uncertainty** — capex, opex and $ per million output tokens, P10/P50/P90.
#
# Every result converts to a pandas DataFrame with `.to_frame()`; charts are drawn inline.
# The model is DeepSeek-V2-Lite (a 16B-parameter MoE) in BF16 so that each simulation takes a
# second; swap in `deepseek-v3` and `ascend-910b2` for the full-size question (slower).
# Open it in Jupyter with `jupytext --to notebook examples/capacity_planning.py`, or run it
# as a script.

# %%
# %matplotlib inline
import pandas as pd

import accelsim

catalog = accelsim.load_catalog()
MODEL, DEVICES = "deepseek-v2-lite", ["a100-sxm4-80gb", "h100-sxm5"]
pd.DataFrame(
    [
        {
            "device": d,
            "HBM (GB)": catalog.device(d).hbm_capacity / 1e9,
            "HBM (TB/s)": catalog.device(d).hbm_bandwidth / 1e12,
            "BF16 (TFLOPS)": catalog.device(d).peak("bf16") / 1e12,
        }
        for d in DEVICES
    ]
).set_index("device")

# %% [markdown]
# ## 1. Fit
#
# `fit_best` picks the parallel plan (tensor/expert/data parallel) on a given number of cards
# that leaves the most room for the KV cache, after weights, a 10% framework reserve and an
# activation workspace. Here: one card and one 8-card server of each device.

# %%
prec = accelsim.precision("bf16")
fits = []
for d in DEVICES:
    for cards in (1, 8):
        server = catalog.server_for(catalog.device(d))
        f = accelsim.fit_best(
            catalog.model(MODEL),
            catalog.device(d),
            cards,
            prec,
            context=4096,
            scale_up_cards=server.scale_up_domain_cards,
        )
        fits.append({"device": d, "cards": cards, **f.as_dict()})
fit_frame = pd.DataFrame(fits)
fit_frame[["device", "cards", "fits", "plan", "max_kv_tokens"]]

# %% [markdown]
# ## 2. Simulate a trace
#
# The `tiny` scenario serves the model on two A100s as two single-card replicas. We replace its
# synthetic traffic by the first 300 requests of the Azure 2023 conversation trace shipped in
# `workloads/traces/` (recorded arrival times and token counts) and simulate. The result's
# `summary` holds throughput, TTFT/TPOT percentiles and goodput; `to_frame()` has one row per
# request.

# %%
trace_traffic = {
    "arrival": "trace",
    "trace": "workloads/traces/azure_conv_2023.csv",
    "format": "azure",
    "requests": 300,
}
scenario = accelsim.load_scenario("tiny", catalog, overrides={"traffic": trace_traffic})
run = accelsim.simulate(scenario, catalog)
s = run.summary
print(
    f"{s.completed} of {s.arrived} requests in {s.duration_s:.0f} s: "
    f"{s.throughput.output_tokens_per_s:.0f} output tok/s, "
    f"TTFT p99 {s.ttft_s.p99 * 1e3:.0f} ms, TPOT p99 {s.tpot_s.p99 * 1e3:.1f} ms, "
    f"goodput {s.goodput.share:.0%}"
)
requests = run.to_frame()
requests.head()

# %%
ttft_ms = (requests["first_token_at"] - requests["arrived_at"]) * 1e3
ax = ttft_ms.plot.hist(bins=40, title="TTFT of the replayed Azure requests")
ax.set_xlabel("TTFT (ms)")
ttft_ms.describe(percentiles=[0.5, 0.9, 0.99]).rename("TTFT (ms)")

# %% [markdown]
# ## 3. Compare devices
#
# `compare` checks the fit on one server, finds the smallest deployment, simulates the
# scenario's traffic on it, sizes the cluster for the load under the scenario's SLOs and costs
# it (Monte Carlo over price ranges). One row per device; the winner per metric is in `rows`.

# %%
comparison = accelsim.compare("tiny", catalog, DEVICES, monte_carlo=300)
frame = comparison.to_frame()
frame[["min_cards", "output_tokens_per_s", "tpot_p99_s", "cards_needed", "usd_per_mtok_p50"]]

# %%
comparison.plot(["output_tokens_per_s_per_card", "tpot_p99_s", "usd_per_mtok_p50"])

# %% [markdown]
# ## 4. What-if
#
# How much does the A100's HBM bandwidth matter here? `whatif` varies one catalog field (or a
# scenario field such as `scenario.traffic.rate`) and reruns the scenario at each value; the
# catalog value is the baseline row and the others are marked `what_if`. It simulates each
# point (`evaluator="analytic"` answers in milliseconds from the timing model instead). The
# same overrides work everywhere: `accelsim.compare(..., overrides={...})`, or
# `accelsim.load_catalog(overrides={...})` for every call at once.

# %%
hbm = accelsim.whatif(
    "tiny",
    vary="device.a100-sxm4-80gb.hbm_bandwidth=1TB/s..3TB/s",
    steps=3,
    metrics=["tpot_p99", "goodput", "usd_per_mtok"],
)
hbm.to_frame()[["label", "what_if", "tpot_p99", "goodput", "usd_per_mtok"]]

# %%
hbm.plot()

# %% [markdown]
# ## 5. Size a cluster
#
# The fewest H100s (in whole 8-card servers) that keep p99 TTFT and TPOT within the scenario's
# SLOs at 60 requests/s. The scenario's traffic rate is overridden with `scenario.*` keys.

# %%
busy = accelsim.load_scenario("tiny", catalog, overrides={"traffic.rate": "60/s"})
sizing = accelsim.size_cluster(busy, catalog, "h100-sxm5", max_cards=64, use_scenario_plan=False)
print(f"{sizing.cards} cards ({sizing.nodes} nodes) of {sizing.device}, plan {sizing.replica_plan}")
sizing.to_frame()  # every replica count the search simulated, and the one it chose

# %% [markdown]
# ## 6. Cost it with uncertainty
#
# `estimate_tco` costs the sized cluster at the card activity (the share of time compute or
# HBM work at peak, which sets the cards' power) and throughput its simulation measured;
# `monte_carlo` draws every uncertain price and spec from its range and reports
# P10/P50/P90 of each output.

# %%
tco = accelsim.estimate_tco(
    catalog,
    "h100-sxm5",
    sizing.cards,
    utilization=min(sizing.summary.activity, 1.0),
    throughput=sizing.summary.throughput.output_tokens_per_s,
    input_tokens_per_s=sizing.summary.throughput.input_tokens_per_s,
)
uncertainty = tco.monte_carlo(500, seed=0)
costs = uncertainty.to_frame().set_index("output")
costs.loc[["capex", "per_year", "usd_per_mtok_output"], ["label", "p10", "p50", "p90", "unit"]]
