"""Supervised fine-tuning of a VisCodex model (issue 14): `viscodex-train sft`.

The paper's second step after the merge: the merged Qwen2.5-VL model is fine-tuned on multimodal coding data
with the vision encoder and the projector frozen and the loss on the assistant's answers only. Built on
transformers and TRL's `SFTTrainer`; LoRA through peft (merged back, so the output is always a plain
checkpoint); multi-GPU and multi-node through accelerate, optionally with DeepSpeed ZeRO-2/3.

Parts: ``recipe`` (the run as data, a registry of YAML recipes), ``collate`` (chat template, images,
answer-only labels), ``dataset`` (the streaming data pass: checks, lengths, digest), ``freeze`` (what is
frozen per architecture), ``train`` (the run), ``card`` (the model card), ``cli`` (the command).

One process (CPU or one GPU)::

    viscodex-train sft --model merged/ --data mcd/ --out sft/ --config viscodex

Several GPUs, one node, ZeRO-3 (``accelerate launch`` runs the console script in each process)::

    accelerate launch --num_processes 8 --mixed_precision bf16 "$(command -v viscodex-train)" \\
        sft --model merged/ --data mcd/ --out sft/ --config viscodex --deepspeed zero3

Several nodes: add ``--num_machines N --machine_rank R --main_process_ip HOST --main_process_port 29500`` on
each node. ``deepspeed`` must be installed on the GPU machines (it is not a dependency of the package).
"""
