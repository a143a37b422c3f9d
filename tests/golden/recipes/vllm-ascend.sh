# accelsim launch recipe: vllm-ascend 0.13.0, scenario default: deepseek-v3 on ascend-910b2 (atlas-800i-a2, 8 ranks per node)
# flags: https://vllm-ascend.readthedocs.io/en/v0.13.0/ (vllm serve engine args); each checked against the stored option list vllm-ascend-0.13.0.yaml
# HEAD_IP: the address of each replica's node 0

# accelsim-pool: role=serving replicas=1 nodes=4 ranks_per_node=8 plan=tp=4,dp=8,ep=32,pp=1
# serving pool: 1 replica(s) of plan tp=4,dp=8,ep=32,pp=1, each on 4 node(s) of 8 rank(s); run the command(s) below once per replica, on its own nodes
# node 0 of 4
# --tensor-parallel-size 4: plan tp=4
# --data-parallel-size 8: plan dp=8 (DP attention)
# --enable-expert-parallel: plan ep=32 = tp*dp
# --gpu-memory-utilization 0.9: the memory fraction the memory fit used
# --max-num-seqs 256: scheduler max_seqs=256
# --max-num-batched-tokens 8192: scheduler max_batched_tokens=8192
# --enable-chunked-prefill: scheduler policy chunked_prefill
# --block-size 128: scheduler block_size=128
# --max-model-len 4096: scenario context=4096
# --quantization ascend: dtype int8: msModelSlim W8A8 weights
# --data-parallel-size-local 2: 2 DP rank(s) per node
# --data-parallel-address $HEAD_IP: the replica's node 0
# --data-parallel-rpc-port 13345: DP coordination port
# --port 8000: API port
vllm serve deepseek-ai/DeepSeek-V3 \
    --tensor-parallel-size 4 \
    --data-parallel-size 8 \
    --enable-expert-parallel \
    --gpu-memory-utilization 0.9 \
    --max-num-seqs 256 \
    --max-num-batched-tokens 8192 \
    --enable-chunked-prefill \
    --block-size 128 \
    --max-model-len 4096 \
    --quantization ascend \
    --data-parallel-size-local 2 \
    --data-parallel-address $HEAD_IP \
    --data-parallel-rpc-port 13345 \
    --port 8000
# node 1 of 4
# --data-parallel-start-rank 2: node 1
# --headless: no API server on nodes past the first
vllm serve deepseek-ai/DeepSeek-V3 \
    --tensor-parallel-size 4 \
    --data-parallel-size 8 \
    --enable-expert-parallel \
    --gpu-memory-utilization 0.9 \
    --max-num-seqs 256 \
    --max-num-batched-tokens 8192 \
    --enable-chunked-prefill \
    --block-size 128 \
    --max-model-len 4096 \
    --quantization ascend \
    --data-parallel-size-local 2 \
    --data-parallel-address $HEAD_IP \
    --data-parallel-rpc-port 13345 \
    --data-parallel-start-rank 2 \
    --headless \
    --port 8000
# node 2 of 4
# --data-parallel-start-rank 4: node 2
vllm serve deepseek-ai/DeepSeek-V3 \
    --tensor-parallel-size 4 \
    --data-parallel-size 8 \
    --enable-expert-parallel \
    --gpu-memory-utilization 0.9 \
    --max-num-seqs 256 \
    --max-num-batched-tokens 8192 \
    --enable-chunked-prefill \
    --block-size 128 \
    --max-model-len 4096 \
    --quantization ascend \
    --data-parallel-size-local 2 \
    --data-parallel-address $HEAD_IP \
    --data-parallel-rpc-port 13345 \
    --data-parallel-start-rank 4 \
    --headless \
    --port 8000
# node 3 of 4
# --data-parallel-start-rank 6: node 3
vllm serve deepseek-ai/DeepSeek-V3 \
    --tensor-parallel-size 4 \
    --data-parallel-size 8 \
    --enable-expert-parallel \
    --gpu-memory-utilization 0.9 \
    --max-num-seqs 256 \
    --max-num-batched-tokens 8192 \
    --enable-chunked-prefill \
    --block-size 128 \
    --max-model-len 4096 \
    --quantization ascend \
    --data-parallel-size-local 2 \
    --data-parallel-address $HEAD_IP \
    --data-parallel-rpc-port 13345 \
    --data-parallel-start-rank 6 \
    --headless \
    --port 8000
