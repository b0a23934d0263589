"""Modules shaped like other tokenizer libraries, for switching by changing one import.

`ferrotok.compat.tokenizers` stands in for Hugging Face `tokenizers`.
"""
