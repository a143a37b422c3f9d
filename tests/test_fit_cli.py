"""The foundation's done-criteria: `accelsim fit` answers pinned to hand calculations, and the
CLI's one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest
from clirun import run_cli, run_line


def test_seed_moe_does_not_fit_on_one_910b2_server(capsys):
    """seed-moe-1.2t routed experts: 58 MoE layers x 256 experts of 3*10240*2560 = 78,643,200
    params. On 8 cards (ep=8) at INT8 that is 58 * 32 * 78,643,200 B = 145,961,779,200 B per
    card — more than twice a 910B2's 64 GiB (68.7 GB), so it cannot fit at any plan.
    At 16 cards: 16 experts/card -> 72.98 GB of routed weights, still over 64 GiB.
    At 24 cards: ceil(256/24) = 11 experts/card -> 50.17 GB, which leaves room: minimum 24 cards."""
    code, out, _ = run_line(
        capsys, "fit seed-moe-1.2t --device ascend-910b2 --cards 8 --dtype int8 --json"
    )
    assert code == 0
    r = json.loads(out)
    assert r["fits"] is False
    assert r["weights_routed"] == 145_961_779_200
    assert r["shortfall"] > 0
    assert r["minimum_cards"] == 24


def test_deepseek_v3_fits_on_16_a100_at_int8(capsys):
    """DeepSeek-V3, 16 x A100-SXM4-80GB, INT8 weights, BF16 KV, best plan tp=1, dp=16, ep=16.
    Per card (bytes):
      attention 61 layers x 187,121,664 params (q 48,760,320 + kv 20,906,496 + o 117,440,512
        + norms 14,336) x 1 B = 11,414,421,504
      dense FFN 3 x 3*7168*18432 = 1,189,085,184
      shared expert + router 58 x (44,040,192 + 1,835,008) = 2,660,761,600
      routed 58 x 256/16 x 44,040,192 = 40,869,298,176
      embedding + LM head 2 x 129,280*7168 x 2 B (kept 16-bit) = 3,706,716,160
      activations: the replica's 8,192 tokens and 256 sequences over 16 DP groups, 512 tokens
        and 16 sequences per rank: 512 x (8*7168 + 3*18432) x 2 + 16 x 129,280 x 4
        = 115,343,360 + 8,273,920 = 123,617,280
      reserve 10% of 80e9 = 8e9
    KV = 80e9 - 8e9 - 59,963,899,904 = 12,036,100,096 B; per token 576 x 61 x 2 B = 70,272 B
    -> 171,278 tokens per DP group x 16 groups = 2,740,448 tokens; 41 x 16 = 656 sequences of
    4,096."""
    code, out, _ = run_line(
        capsys, "fit deepseek-v3 --device a100-sxm4-80gb --cards 16 --dtype int8 --json"
    )
    assert code == 0
    r = json.loads(out)
    assert r["fits"] is True
    assert r["plan"] == "tp=1,ep=16,dp=16"
    assert r["weights_attention"] == 11_414_421_504
    assert r["weights_routed"] == 40_869_298_176
    assert r["weights_embedding"] == 3_706_716_160
    assert r["activations"] == 123_617_280
    assert r["kv_capacity"] == pytest.approx(12_036_100_096)
    assert r["kv_bytes_per_token"] == 70_272
    assert r["max_kv_tokens"] == 2_740_448
    assert r["max_batch_at_context"] == 171_278 // 4096 * 16


def test_fit_table_output_and_what_if_mark(capsys):
    code, out, _ = run_line(
        capsys,
        "fit deepseek-v3 --device ascend-910b2 --cards "
        "16 --dtype int8 --set device.ascend-910b2.hbm_capacity=96GB",
    )
    assert code == 0
    assert "fits" in out
    assert "what-if" in out and "hbm_capacity" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "deepseek-v3", "--device", "ascend-910b", "--cards", "8"], "did you mean"),
        (["fit", "deepseek-v4", "--device", "ascend-910b2"], "unknown model"),
        (["fit", "deepseek-v3", "--device", "ascend-910b2", "--dtype", "fp8"], "fp8"),
        (["fit", "deepseek-v3", "--device", "ascend-910b2", "--dtype", "fp7"], "unknown dtype"),
        (
            ["fit", "deepseek-v3", "--device", "ascend-910b2", "--cards", "12", "--plan", "tp=8"],
            "does not divide",
        ),
        (
            [
                "fit",
                "deepseek-v3",
                "--device",
                "ascend-910b2",
                "--set",
                "device.ascend-910b2.hbm_bandwidth=1.6TB",
            ],
            "hbm_bandwidth",
        ),
        (["show", "device", "nosuch"], "unknown device"),
        (["catalog", "gizmos"], "unknown catalog kind"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_broken_user_catalog_exits_2_naming_the_file(capsys, tmp_path):
    bad = tmp_path / "devices" / "cards" / "bad.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("name: bad\n  vendor: x\n")
    code, _, err = run_cli(capsys, "catalog", "devices", "--catalog", str(tmp_path))
    assert code == 2
    assert "bad.yaml" in err


@pytest.mark.parametrize(
    "kind", ["devices", "servers", "fabrics", "frameworks", "models", "prices", "facilities"]
)
def test_catalog_lists_every_kind_as_json(capsys, catalog, kind):
    code, out, _ = run_cli(capsys, "catalog", kind, "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == len(catalog.names(kind)) > 0


def test_show_lists_sources_and_derived_values(capsys):
    code, out, _ = run_line(capsys, "show model deepseek-v3 --json")
    assert code == 0
    r = json.loads(out)
    fields = {f["field"]: f for f in r["fields"]}
    assert fields["hidden_size"]["value"] == 7168
    assert fields["hidden_size"]["src"] == ["C1"]
    assert r["derived"]["kv_bytes_per_token_bf16"] == 70272
    code, out, _ = run_line(capsys, "show device ascend-910b2")
    assert code == 0 and "1.6 TB/s" in out


def test_fit_holds_an_eagle_draft_next_to_its_target(capsys):
    """``--draft-model``: the draft's weights sit on each rank and its KV shares the budget,
    so the target holds fewer KV tokens; a draft for another model is one clear error."""
    args = ["fit", "qwen3-32b", "-d", "ascend-910b3", "--cards", "4", "--plan", "tp=4", "--json"]
    code, out, _ = run_cli(capsys, *args)
    plain = json.loads(out)
    code2, out2, _ = run_cli(capsys, *args, "--draft-model", "qwen3-32b-eagle3")
    with_draft = json.loads(out2)
    assert code == code2 == 0
    assert with_draft["weights_draft"] > 0 and "weights_draft" not in plain
    assert with_draft["max_kv_tokens"] < plain["max_kv_tokens"]
    code, _, err = run_cli(capsys, *args, "--draft-model", "qwen3-235b-a22b-eagle3")
    assert code == 2 and "is not a draft model for qwen3-32b" in err
