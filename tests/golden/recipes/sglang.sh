# accelsim launch recipe: sglang 0.5.4, scenario tiny: deepseek-v2-lite on a100-sxm4-80gb (dgx-a100, 8 ranks per node)
# flags: https://docs.sglang.ai/advanced_features/server_arguments.html; each checked against the stored option list sglang-0.5.4.yaml
# HEAD_IP: the address of each replica's node 0
# note: the run was simulated as vllm (its memory fraction's meaning, its scheduler); these flags carry its plan and limits to sglang
# note: the run assumed preemption recompute; SGLang retracts

# accelsim-pool: role=serving replicas=2 nodes=1 ranks_per_node=1 plan=tp=1,dp=1,ep=1,pp=1
# serving pool: 2 replica(s) of plan tp=1,dp=1,ep=1,pp=1, each on 1 node(s) of 1 rank(s); run the command(s) below once per replica, on its own nodes
# node 0 of 1
# --model-path deepseek-ai/DeepSeek-V2-Lite: model deepseek-v2-lite
# --tp-size 1: plan tp*dp=1 (SGLang's tp counts all)
# --mem-fraction-static 0.9: the memory fraction the memory fit used
# --max-running-requests 64: scheduler max_seqs=64
# --chunked-prefill-size -1: scheduler policy continuous
# --max-prefill-tokens 4096: scheduler max_batched_tokens=4096
# --page-size 16: scheduler block_size=16
# --context-length 4096: scenario context=4096
# --port 30000: API port
python -m sglang.launch_server \
    --model-path deepseek-ai/DeepSeek-V2-Lite \
    --tp-size 1 \
    --mem-fraction-static 0.9 \
    --max-running-requests 64 \
    --chunked-prefill-size -1 \
    --max-prefill-tokens 4096 \
    --page-size 16 \
    --context-length 4096 \
    --port 30000
