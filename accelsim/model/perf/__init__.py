"""The timing model: one forward iteration of one replica -> a ``StepTime`` breakdown.

Pure functions of (card, fabrics, model, plan, precision, batch); no simpy, no catalog
(``accelsim.run.timing`` looks the objects up). Every op is a roofline,
``max(FLOPs / achievable FLOP/s, HBM bytes / achievable bandwidth)`` plus a fixed per-kernel
cost, with the card's efficiency profile; every collective an alpha-beta cost per fabric level.
One module per op family, each stating its own assumptions and sources; import names from the
module that owns them:

- ``ops`` — the op classes and bounds, kernel counts, the ``Ops`` accumulator, ``StepTime``,
  and the ``Group`` of work the busiest attention-DP group holds (the plan conventions);
- ``roofline`` — achievable rates of a rank, weight GEMMs and elementwise kernels (their
  conventions);
- ``collectives`` — alpha-beta collectives over one fabric level, a rank's fabrics;
- ``attention`` — projections, the attention core and its elementwise kernels;
- ``sparse`` — DeepSeek's sparse (V3.2 DSA) and compressed (V4 window/CSA/HCA) attention, with
  the lightning indexer as its own op class;
- ``hyper`` — DeepSeek-V4's hyper-connections (residual streams, Sinkhorn mixing);
- ``moe`` — router, shared and routed experts, EP dispatch/combine;
- ``layer`` — one decoder layer: attention, dense FFN or MoE, TP all-reduces;
- ``layer_table`` — the simulator's path: the layers' token-only part tabulated per exact token
  count, only the attention priced per batch (the same floats);
- ``head`` — LM head and sampling;
- ``overlap`` — two micro-batches hiding each other's communication;
- ``draft`` — speculative decoding (``SpecDecode``) and its draft passes (MTP, EAGLE);
- ``model`` — ``PerfModel``, the facade that composes one iteration.
"""
