"""The transformers-style call `tokenizer(texts, ...)`: padded, truncated batches as lists,
numpy arrays or torch tensors, in a dict-like `BatchEncoding`.

The arguments mean what they mean in transformers' `PreTrainedTokenizerFast.__call__`; the work
is one call into the Rust core, which builds the padded matrices itself when tensors are asked
for (no Python int per token).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ferrotok import _native

if TYPE_CHECKING:
    from ferrotok.tokenizer import Tokenizer

__all__ = ["BatchEncoding"]

#: Tokens tried, in order, as the padding token of a tokenizer.json without padding settings.
PAD_TOKEN_CANDIDATES = ("[PAD]", "<pad>", "<|pad|>", "<PAD>", "<|padding|>")


class BatchEncoding(dict[str, Any]):
    """A dict of model inputs (`input_ids`, `attention_mask`, ...), also readable as attributes.

    `encodings` holds the `ferrotok._native.Encoding` of each row when the output is lists.
    """

    def __init__(self, data: dict[str, Any], encodings: list[Any] | None = None) -> None:
        super().__init__(data)
        self.encodings = encodings

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """The word of each token of row `batch_index` (`None` for special and pad tokens)."""
        if self.encodings is None:
            raise ValueError("word_ids() needs return_tensors=None (the per-row encodings)")
        return list(self.encodings[batch_index].word_ids)

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """The sequence (0 or 1) of each token of row `batch_index`."""
        if self.encodings is None:
            raise ValueError("sequence_ids() needs return_tensors=None (the per-row encodings)")
        return list(self.encodings[batch_index].sequence_ids)


def _pad_settings(tokenizer: Tokenizer) -> tuple[int, str]:
    """The padding id and token: the file's, else a usual padding token of the vocabulary."""
    _, padding = tokenizer._native.file_settings()
    if padding is not None:
        return padding[3], padding[5]
    for token in PAD_TOKEN_CANDIDATES:
        pad_id = tokenizer._native.token_to_id(token)
        if pad_id is not None:
            return pad_id, token
    raise _native.TokenizerError(
        "padding needs a padding token and this tokenizer has none (no padding settings in the "
        f"file, none of {', '.join(PAD_TOKEN_CANDIDATES)} in the vocabulary); pass pad_id="
    )


def call(
    tokenizer: Tokenizer,
    text: str | Sequence[str],
    text_pair: str | Sequence[str] | None,
    *,
    add_special_tokens: bool,
    padding: bool | str,
    truncation: bool | str | None,
    max_length: int | None,
    stride: int,
    pad_to_multiple_of: int | None,
    padding_side: str,
    pad_id: int | None,
    return_tensors: str | None,
    return_token_type_ids: bool,
    return_attention_mask: bool,
    return_offsets_mapping: bool,
    return_special_tokens_mask: bool,
    num_threads: int | None,
) -> BatchEncoding:
    single = isinstance(text, str)
    texts = [text] if isinstance(text, str) else list(text)
    if text_pair is None:
        pairs: list[str | None] = [None] * len(texts)
    else:
        pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
        if len(pairs) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(pairs)} text pairs")

    file_truncation, _ = tokenizer._native.file_settings()
    if truncation is None:
        truncation = max_length is not None
    if truncation in (False, "do_not_truncate"):
        truncation_args = None
    else:
        strategy = "longest_first" if truncation is True else str(truncation)
        if strategy not in ("longest_first", "only_first", "only_second"):
            raise ValueError(f"truncation must be a bool or a strategy name, not {truncation!r}")
        length = max_length
        if length is None:
            if file_truncation is None:
                raise ValueError("truncation needs max_length (this tokenizer.json sets none)")
            length = file_truncation[0]
        truncation_args = (length, stride, strategy, "right")

    if padding in (False, "do_not_pad"):
        padding_args = None
    else:
        if padding is True or padding == "longest":
            fixed = None
        elif padding == "max_length":
            fixed = max_length if max_length is not None else (truncation_args or [None])[0]
            if fixed is None:
                raise ValueError("padding='max_length' needs max_length")
        else:
            raise ValueError(f"padding must be a bool, 'longest' or 'max_length', not {padding!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
        default_id, pad_token = _pad_settings(tokenizer) if pad_id is None else (pad_id, "")
        if pad_id is not None:
            pad_token = tokenizer._native.id_to_token(pad_id) or ""
        padding_args = (fixed, padding_side, pad_to_multiple_of, default_id, 0, pad_token)

    inputs = list(zip(texts, pairs, strict=False))
    keep = {
        "input_ids": True,
        "token_type_ids": return_token_type_ids,
        "attention_mask": return_attention_mask,
        "special_tokens_mask": return_special_tokens_mask,
        "offset_mapping": return_offsets_mapping,
    }
    if return_tensors is not None:
        if return_tensors not in ("np", "pt"):
            raise ValueError(f"return_tensors must be None, 'np' or 'pt', not {return_tensors!r}")
        arrays = tokenizer._native.encode_padded_numpy(
            inputs,
            add_special_tokens,
            False,
            truncation_args,
            padding_args,
            return_offsets_mapping,
            num_threads,
        )
        data: dict[str, Any] = {key: value for key, value in arrays.items() if keep[key]}
        if return_tensors == "pt":
            import torch  # type: ignore[import-not-found,unused-ignore]  # optional

            data = {key: torch.from_numpy(value) for key, value in data.items()}
        return BatchEncoding(data)

    encodings = tokenizer._native.encode_rich(
        inputs, add_special_tokens, False, truncation_args, padding_args, num_threads
    )
    fields = {
        "input_ids": "ids",
        "token_type_ids": "type_ids",
        "attention_mask": "attention_mask",
        "special_tokens_mask": "special_tokens_mask",
        "offset_mapping": "offsets",
    }
    data = {key: [getattr(e, fields[key]) for e in encodings] for key in fields if keep[key]}
    if single:
        data = {key: value[0] for key, value in data.items()}
    return BatchEncoding(data, encodings)
