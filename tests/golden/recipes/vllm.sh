# accelsim launch recipe: vllm 0.13.0, scenario tiny: deepseek-v2-lite on a100-sxm4-80gb (dgx-a100, 8 ranks per node)
# flags: https://docs.vllm.ai/en/v0.13.0/configuration/engine_args.html; each checked against the stored option list vllm-0.13.0.yaml
# HEAD_IP: the address of each replica's node 0

# accelsim-pool: role=serving replicas=2 nodes=1 ranks_per_node=1 plan=tp=1,dp=1,ep=1,pp=1
# serving pool: 2 replica(s) of plan tp=1,dp=1,ep=1,pp=1, each on 1 node(s) of 1 rank(s); run the command(s) below once per replica, on its own nodes
# node 0 of 1
# --tensor-parallel-size 1: plan tp=1
# --gpu-memory-utilization 0.9: the memory fraction the memory fit used
# --max-num-seqs 64: scheduler max_seqs=64
# --max-num-batched-tokens 4096: scheduler max_batched_tokens=4096
# --no-enable-chunked-prefill: scheduler policy continuous
# --block-size 16: scheduler block_size=16
# --max-model-len 4096: scenario context=4096
# --port 8000: API port
vllm serve deepseek-ai/DeepSeek-V2-Lite \
    --tensor-parallel-size 1 \
    --gpu-memory-utilization 0.9 \
    --max-num-seqs 64 \
    --max-num-batched-tokens 4096 \
    --no-enable-chunked-prefill \
    --block-size 16 \
    --max-model-len 4096 \
    --port 8000
