# ttp_sam-b_levir.py with bf16 mixed precision (mmengine's AmpOptimWrapper:
# autocast to bfloat16). mmengine 0.10.7 builds AmpOptimWrapper only when a
# CUDA/NPU/MLU/MUSA device is present; on CPU use the fp32 config (bf16
# matmuls are slower than fp32 on CPUs without AMX, configs/ttp/README.md).
# fp16 instead: dtype='float16' (dynamic loss scaling).
_base_ = './ttp_sam-b_levir.py'
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16')
