# accelsim launch manifest: vllm 0.13.0 on LeaderWorkerSet, scenario tiny: deepseek-v2-lite on a100-sxm4-80gb (dgx-a100)
# manifest: https://lws.sigs.k8s.io/docs/ (LeaderWorkerSet v1), https://docs.vllm.ai/en/v0.13.0/deployment/frameworks/lws.html; flags checked against the stored option list vllm-0.13.0.yaml
---
# accelsim-pool: role=serving replicas=2 nodes=1 ranks_per_node=1
# --tensor-parallel-size 1: plan tp=1
# --gpu-memory-utilization 0.9: the memory fraction the memory fit used
# --max-num-seqs 64: scheduler max_seqs=64
# --max-num-batched-tokens 4096: scheduler max_batched_tokens=4096
# --no-enable-chunked-prefill: scheduler policy continuous
# --block-size 16: scheduler block_size=16
# --max-model-len 4096: scenario context=4096
# --port 8000: API port
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata:
  name: tiny-serving
spec:
  replicas: 2  # pool replicas
  leaderWorkerTemplate:
    size: 1  # nodes per replica
    workerTemplate:
      spec:
        containers:
        - name: leader
          image: vllm/vllm-openai:v0.13.0
          command: [sh, -c]
          args:
          - |
            vllm serve deepseek-ai/DeepSeek-V2-Lite \
                --tensor-parallel-size 1 \
                --gpu-memory-utilization 0.9 \
                --max-num-seqs 64 \
                --max-num-batched-tokens 4096 \
                --no-enable-chunked-prefill \
                --block-size 16 \
                --max-model-len 4096 \
                --port 8000
          resources:
            limits: {nvidia.com/gpu: 1}
          ports:
          - containerPort: 8000
