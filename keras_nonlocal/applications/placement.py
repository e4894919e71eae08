"""Where non-local blocks go: placement presets as data, plus validation.

A placement maps a stage number (2 for res2 ... 5 for res5) to the residual
blocks of that stage that are followed by a non-local block. A block inserted
after residual block `i` of stage `s` is the layer `nonlocal_conv{s}_{i}`, as in
the official code.

A stage's entry is one of:

- a tuple of block indices, e.g. `(1, 3, 5)`;
- `("every", m)`: the official rule, blocks with `i % m == m - 1`;
- `"all"`: every block of the stage;
- `"before_last"`: the one block before the stage's last block (the paper's
  "1 block" setting, Sec. 4.2 and Table 2b).
"""

# Preset name -> {stage: rule}. The paper's Table 2b ("which stage") are the
# "res2".."res5" rows; Table 2c ("going deeper") are "1_block", "5_blocks" and
# "10_blocks" on ResNet-50.
PLACEMENT_PRESETS = {
    "none": {},
    "res2": {2: "before_last"},
    "res3": {3: "before_last"},
    "res4": {4: "before_last"},
    "res5": {5: "before_last"},
    "1_block": {4: "before_last"},
    # Official ResNet-50 (NONLOCAL.LAYER_MOD = 2): res3 blocks 1, 3 and res4
    # blocks 1, 3, 5.
    "5_blocks": {3: ("every", 2), 4: ("every", 2)},
    "10_blocks": {3: "all", 4: "all"},
    # Official ResNet-101: res3 keeps mod 2, res4 uses mod 4 * 2 - 1 = 7, i.e.
    # blocks 6, 13, 20 of 23.
    "official_r101": {3: ("every", 2), 4: ("every", 7)},
}

# Names that resolve by the stage depths, as the official code does by
# MODEL.DEPTH: "official" is the R50 rule except on ResNet-101, and the paper's
# "5 blocks" on ResNet-101 are the official R101 blocks ("corresponding"
# blocks, Sec. 4.2). Any other depth keeps the name's own row.
DEPTH_ALIASES = {
    "official": {(3, 4, 23, 3): "official_r101"},
    "5_blocks": {(3, 4, 23, 3): "official_r101"},
}


def _stage_number(key, first_stage, num_stages):
    stage = key
    if isinstance(key, str) and key.startswith("res") and key[3:].isdigit():
        stage = int(key[3:])
    if not isinstance(stage, int) or isinstance(stage, bool):
        raise ValueError(
            "`nonlocal_placement` keys must be stage numbers "
            f"({first_stage}..{first_stage + num_stages - 1}) or names like 'res3'. "
            f"Received key: {key!r}"
        )
    if not first_stage <= stage < first_stage + num_stages:
        raise ValueError(
            f"`nonlocal_placement` names stage {key!r}, but the network's stages are "
            f"res{first_stage}..res{first_stage + num_stages - 1}."
        )
    return stage


def _stage_blocks(rule, stage, depth):
    if rule == "all":
        return tuple(range(depth))
    if rule == "before_last":
        return (max(depth - 2, 0),)
    if (
        isinstance(rule, (tuple, list))
        and len(rule) == 2
        and rule[0] == "every"
        and isinstance(rule[1], int)
        and rule[1] >= 1
    ):
        mod = rule[1]
        return tuple(i for i in range(depth) if i % mod == mod - 1)
    if isinstance(rule, int) and not isinstance(rule, bool):
        rule = (rule,)
    if isinstance(rule, (tuple, list)) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in rule
    ):
        bad = [i for i in rule if not 0 <= i < depth]
        if bad:
            raise ValueError(
                f"`nonlocal_placement` puts a block after residual block(s) {bad} "
                f"of res{stage}, which has {depth} blocks (indices 0..{depth - 1})."
            )
        if len(set(rule)) != len(rule):
            raise ValueError(
                f"`nonlocal_placement` repeats a block index in res{stage}: {tuple(rule)}"
            )
        return tuple(sorted(rule))
    raise ValueError(
        f"`nonlocal_placement` for res{stage} must be a tuple of block indices, "
        f"('every', m), 'all' or 'before_last'. Received: {rule!r}"
    )


def resolve_placement(placement, depths, first_stage=2):
    """Turns a placement argument into explicit block indices per stage.

    Args:
        placement: `None` (no non-local blocks), a preset name from
            `PLACEMENT_PRESETS` or `"official"`, or a dict
            `{stage: rule}` where `stage` is a stage number (2..5) or a name
            (`"res3"`) and `rule` is a tuple of block indices,
            `("every", m)`, `"all"` or `"before_last"`.
        depths: number of residual blocks per stage.
        first_stage: number of the first stage (2 for res2).

    Returns:
        A dict `{stage: (block indices, ...)}` with only the stages that get
        blocks, in stage order.

    Example:

    >>> resolve_placement("official", (3, 4, 23, 3))
    {3: (1, 3), 4: (6, 13, 20)}
    >>> resolve_placement({"res4": (0, 5)}, (3, 4, 6, 3))
    {4: (0, 5)}
    """
    depths = tuple(depths)
    if placement is None:
        return {}
    if isinstance(placement, str):
        name = DEPTH_ALIASES.get(placement, {}).get(depths, placement)
        if name == "official":
            name = "5_blocks"
        if name not in PLACEMENT_PRESETS:
            raise ValueError(
                "`nonlocal_placement` must be None, a dict {stage: blocks} or one of "
                f"{['official'] + sorted(PLACEMENT_PRESETS)}. "
                f"Received: nonlocal_placement={placement!r}"
            )
        placement = PLACEMENT_PRESETS[name]
    if not isinstance(placement, dict):
        raise ValueError(
            "`nonlocal_placement` must be None, a preset name or a dict "
            f"{{stage: blocks}}. Received: nonlocal_placement={placement!r}"
        )
    resolved = {}
    for key, rule in placement.items():
        stage = _stage_number(key, first_stage, len(depths))
        if stage in resolved:
            raise ValueError(f"`nonlocal_placement` gives res{stage} twice.")
        blocks = _stage_blocks(rule, stage, depths[stage - first_stage])
        if blocks:
            resolved[stage] = blocks
    return dict(sorted(resolved.items()))

