"""The VisCodex merge: task-vector arithmetic on the language backbone of a vision-language model with a
coding LLM, streamed one tensor at a time from memory-mapped safetensors (after arXiv 2508.09945)."""
