"""What the non-local blocks attend to: attention maps and their pictures.

`attention_maps` computes, for chosen query positions of a model's input,
the weights one `NonLocalBlock` gives every key, mapped back to the input's
frames and pixels; `figures` draws them like the paper's Figure 3.
"""

from keras_nonlocal.attention.maps import AttentionMap
from keras_nonlocal.attention.maps import attention_maps
from keras_nonlocal.attention.maps import block_input
from keras_nonlocal.attention.maps import non_local_blocks
from keras_nonlocal.attention.maps import salient_positions
from keras_nonlocal.attention.maps import select_block

__all__ = [
    "AttentionMap",
    "attention_maps",
    "block_input",
    "non_local_blocks",
    "salient_positions",
    "select_block",
]
