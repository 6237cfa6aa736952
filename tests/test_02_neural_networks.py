"""레슨 02: 파라미터 수, 손으로 유도한 활성화 도함수(autograd 금지 상태) vs autograd,
--quick 실행(실제/대체 데이터): 기록한 값이 실제로 잰 값인지·탐색이 검증 세트만 쓰는지, --predict, --resume,
잘못된 입력."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import lesson, read_metrics, run_main
import utils.model_utils as model_utils
from utils.data_utils import FASHION_CLASSES_KO, fashion_stand_in, split_train_val
from utils.model_utils import count_parameters

L02 = lesson("02_neural_networks")
NAME = "02_neural_networks"
FIGURES = ["activations.png", "samples.png", "activation_training.png", "regularization.png", "search.png",
           "learning_curves.png", "confusion_matrix.png", "mistakes.png"]


@pytest.fixture(autouse=True)
def one_thread():
    """작은 모델은 스레드 하나가 더 빠르고, 다른 작업과 CPU를 나눌 때 스레드 동기화 대기가 없습니다."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_parameter_counts_by_formula():
    model = L02.MLP((1024, 512))
    rows = L02.describe_layers(model)
    assert [r["params"] for r in rows] == [784 * 1024, 2 * 1024, 1024 * 512, 2 * 512, 512 * 10 + 10]
    assert sum(r["params"] for r in rows) == count_parameters(model) == 1_335_306
    plain = L02.MLP((256, 128), batch_norm=False, activation="Tanh", dropout=0.2)
    assert count_parameters(plain) == (784 * 256 + 256) + (256 * 128 + 128) + (128 * 10 + 10)
    assert plain(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_hand_derivatives_match_autograd(monkeypatch):
    z = torch.linspace(-6, 6, 241, dtype=torch.float64)
    z = z[z != 0]  # ReLU는 0에서 미분 불가
    with monkeypatch.context() as m:  # 손으로 쓴 식이 autograd·라이브러리 활성화를 몰래 쓰지 못하게
        def forbidden(*a, **k):
            raise AssertionError("라이브러리 함수 호출 금지")
        for target in ("sigmoid", "tanh", "relu"):
            m.setattr(torch, target, forbidden)
        m.setattr(torch.autograd, "grad", forbidden)
        m.setattr(torch.Tensor, "backward", forbidden)
        hand = L02.activation_derivatives(z)
    for name, layer in L02.ACTIVATIONS.items():
        x = z.clone().requires_grad_(True)
        y = layer()(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        value, derivative = hand[name]
        assert torch.allclose(value, y.detach(), atol=1e-12), name
        assert torch.allclose(derivative, grad, atol=1e-12), name
    assert hand["Sigmoid"][1].max() <= 0.25


def _forbidden(*a, **k):
    raise AssertionError("라이브러리 함수 호출 금지")


def test_hand_batch_norm_matches_library_in_train_and_eval(monkeypatch):
    """손으로 쓴 배치 정규화(라이브러리 batch_norm 금지) = nn.BatchNorm1d: 학습 모드 출력·이동 통계 3배치, 평가 모드."""
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(24, 5, generator=gen, dtype=torch.float64) * 3 + 2
    bn = torch.nn.BatchNorm1d(5).double()
    with torch.no_grad():
        bn.weight.copy_(torch.rand(5, generator=gen, dtype=torch.float64) + 0.5)
        bn.bias.copy_(torch.randn(5, generator=gen, dtype=torch.float64))
    gamma, beta = bn.weight.detach().clone(), bn.bias.detach().clone()
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    with monkeypatch.context() as m:
        for target in (torch.nn.functional, torch):
            m.setattr(target, "batch_norm", _forbidden)
        with pytest.raises(AssertionError):
            bn(h)  # 정말 막혔는지
        outs = []
        for step in range(3):  # 배치 셋: 이동 평균·분산이 매번 갱신됨
            out, mean, var = L02.batch_norm_by_hand(h[8 * step:8 * step + 8], gamma, beta, mean, var, training=True)
            outs.append(out)
        hand_eval, mean_after, var_after = L02.batch_norm_by_hand(h, gamma, beta, mean, var, training=False)
        hand_train_full = L02.batch_norm_by_hand(h, gamma, beta, mean, var, training=True)[0]
    demo = L02.show_batch_norm_and_dropout()  # 장의 숫자 예시 (안에서 라이브러리와 비교하므로 막지 않고)
    bn.train()
    for step, out in enumerate(outs):
        assert torch.allclose(out, bn(h[8 * step:8 * step + 8]).detach(), atol=1e-12)
    assert torch.allclose(mean, bn.running_mean, atol=1e-12) and torch.allclose(var, bn.running_var, atol=1e-12)
    assert torch.equal(mean_after, mean) and torch.equal(var_after, var)  # 평가 모드는 통계를 바꾸지 않음
    bn.eval()
    assert torch.allclose(hand_eval, bn(h).detach(), atol=1e-12)
    # 학습 모드: 열마다 평균 β·표준편차 γ. 평가 모드(이동 평균)는 같은 입력에 다른 출력
    assert torch.allclose(hand_train_full.mean(0), beta, atol=1e-10)
    assert torch.allclose(hand_train_full.std(0, unbiased=False), gamma, atol=1e-4)
    assert (hand_train_full - hand_eval).abs().max() > 0.1
    # 학습 모드에서 한 샘플의 출력은 같은 배치의 다른 샘플에 따라 달라짐 (평가 모드는 아님)
    first_alone = L02.batch_norm_by_hand(h[:8], gamma, beta, mean, var, training=True)[0][0]
    assert (first_alone - hand_train_full[0]).abs().max() > 1e-3
    assert torch.allclose(L02.batch_norm_by_hand(h[:8], gamma, beta, mean, var, training=False)[0][0], hand_eval[0])
    # 장의 숫자 예시도 라이브러리와 같고, 두 모드의 출력이 다름
    assert max(demo["bn_train"], demo["bn_eval"], demo["running"]) < 1e-5
    assert (demo["train_output"] - demo["eval_output"]).abs().max() > 0.5


def test_hand_dropout_mask_scaling_and_eval(monkeypatch):
    x = torch.arange(1.0, 2001.0, dtype=torch.float64)
    with monkeypatch.context() as m:
        for target in (torch.nn.functional, torch):
            m.setattr(target, "dropout", _forbidden)
        hand = L02.dropout_by_hand(x, 0.3, training=True, generator=torch.Generator().manual_seed(5))
        evaluated = L02.dropout_by_hand(x, 0.3, training=False)
    kept = hand != 0
    assert torch.allclose(hand[kept], x[kept] / 0.7)          # 남은 값은 1/(1-p) 배
    assert 0.27 < 1 - kept.double().mean().item() < 0.33     # 약 p 만큼 꺼짐
    assert torch.equal(evaluated, x)                          # 평가 모드는 그대로
    lib = torch.nn.Dropout(0.3)
    assert torch.equal(lib.eval()(x), x)
    torch.manual_seed(5)  # 같은 시드의 같은 베르누이 표본 → 라이브러리와 같은 마스크, 같은 값
    lib_out = lib.train()(x)
    assert torch.equal(lib_out != 0, kept) and torch.allclose(lib_out, hand, atol=1e-12)


def test_sigmoid_gradient_vanishes_toward_input():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    norms = {}
    for name in L02.ACTIVATIONS:
        torch.manual_seed(0)
        norms[name] = L02.gradient_norms_at_init(L02.MLP((256,) * 4, activation=name, batch_norm=False), x, y)
    assert norms["Sigmoid"][0] < 0.05 * norms["Sigmoid"][-1]  # 입력 쪽 층은 그래디언트가 20배 넘게 작음
    assert norms["ReLU"][0] > 0.5 * norms["ReLU"][-1]


def test_search_grid_and_normalize():
    grid = L02.search_grid(1e-3, quick=False)
    assert len(grid) == 8 and {g["lr"] for g in grid} == {1e-3, 3e-3}
    assert {g["width"] for g in grid} == set(L02.SEARCH_WIDTHS)
    x = L02.normalize(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))
    assert torch.allclose(x, torch.full_like(x, -L02.FASHION_MEAN / L02.FASHION_STD))


def test_quick_run_on_real_fashion_mnist(real_data_dir, tmp_path, monkeypatch):
    """--quick 실제 데이터: metrics.json 의 비교·탐색 값이 실행 중 실제로 잰 평가와 같고, 테스트 세트는 한 번만."""
    quick = ["--quick", "--data-dir", str(real_data_dir)]
    args = L02.build_parser().parse_args(quick)
    data = L02.load_data(args)
    val_x = split_train_val(data.train_x, data.train_y, L02.VAL_FRACTION, args.seed)[2]
    evaluations = []  # (어느 데이터, 정확도): 실행 중 evaluate 가 불린 순서대로
    real_evaluate = model_utils.evaluate

    def watched_evaluate(model, batches, *a, **k):
        result = real_evaluate(model, batches, *a, **k)
        kind = "test" if torch.equal(batches.x, data.test_x) else "val" if torch.equal(batches.x, val_x) else "train"
        evaluations.append((kind, result["accuracy"]))
        return result

    monkeypatch.setattr(model_utils, "evaluate", watched_evaluate)  # fit() 안의 검증 평가와 장이 직접 부르는 평가
    out = tmp_path / "결과 폴더"
    assert run_main(L02, [*quick, "--out-dir", str(out), "--require-data"]) == 0
    m = read_metrics(out, NAME)
    assert m["data_source"] == "local" and m["dataset"] == "Fashion-MNIST"
    assert (m["n_train"], m["n_test"], m["epochs"]) == (L02.QUICK_TRAIN, L02.QUICK_TEST, 1)
    metrics = m["metrics"]
    assert metrics["test_accuracy"] >= 0.55  # 우연(0.10)보다 훨씬 높아야 함
    # 평가 순서 (--quick): 활성화 3개 × 1에폭, 규제 5개 × (2에폭 + 학습 부분집합 1번), 탐색 2개 × 1에폭, 최종 1에폭, 테스트
    kinds, acc = [k for k, _ in evaluations], [a for _, a in evaluations]
    assert kinds == ["val"] * 3 + ["val", "val", "train"] * 5 + ["val"] * 3 + ["test"]
    assert [metrics[f"activation_val_accuracy_{n}"] for n in ("relu", "sigmoid", "tanh")] == \
        [round(a, 4) for a in acc[:3]]
    # 규제별 차이 = 학습 부분집합의 정확도 - 그 모델의 마지막 검증 정확도 (평가 모드에서 잰 두 값)
    after_training = [i for i, k in enumerate(kinds) if k == "train"]
    keys = ["none", "batchnorm", "dropout", "weight_decay", "all"]
    assert [metrics[f"regularization_gap_{k}"] for k in keys] == [round(acc[i] - acc[i - 1], 4) for i in after_training]
    assert [metrics[f"regularization_val_accuracy_{k}"] for k in keys] == [round(acc[i - 1], 4) for i in after_training]
    # 탐색은 후보별 검증 정확도를 높은 순으로, 최종 학습은 1등 설정으로, 테스트는 선택한 모델로 마지막에 딱 한 번
    assert [r["val_accuracy"] for r in metrics["search"]] == sorted(acc[18:20], reverse=True)
    assert metrics["chosen_lr"] == metrics["search"][0]["lr"] and len(metrics["search"]) == 2
    assert metrics["val_accuracy"] == round(acc[20], 4) == round(metrics["search"][0]["val_accuracy"], 4)
    assert metrics["test_accuracy"] == round(acc[-1], 4)
    for fig in FIGURES:
        assert (out / f"{NAME}-quick" / fig).stat().st_size > 5000, fig


def test_quick_run_on_stand_in(empty_data_dir, tmp_path, capsys):
    out = tmp_path / "결과 폴더"
    assert run_main(L02, ["--quick", "--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out)]) == 0
    assert "[주의]" in capsys.readouterr().out
    m = read_metrics(out, NAME)
    assert m["data_source"] == "fallback" and m["n_test"] == 300
    assert m["metrics"]["test_accuracy"] >= 0.5


def test_require_data_names_expected_files(empty_data_dir, tmp_path, capsys):
    code = run_main(L02, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST 데이터를 찾을 수 없습니다" in err and "train-images-idx3-ubyte.gz" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--search-epochs", "0"], "1 이상의 정수"),
    (["--lr", "abc"], "숫자가 필요합니다"),
])
def test_invalid_option_value(argv, message, capsys):
    assert run_main(L02, argv) == 2
    assert message in capsys.readouterr().err


def test_interrupt_resume_and_predict_on_stand_in(empty_data_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "결과 폴더"
    base = ["--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out), "--search-epochs", "1"]
    real_epoch = model_utils.train_one_epoch
    calls = {"final": 0}

    def interrupt_second_final_epoch(*args, **kwargs):
        if kwargs.get("desc", "").startswith("에폭"):  # 최종 학습(이름 없는 fit)만 센다
            calls["final"] += 1
            if calls["final"] == 2:
                raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(model_utils, "train_one_epoch", interrupt_second_final_epoch)
    assert run_main(L02, [*base, "--epochs", "2"]) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.undo()
    assert run_main(L02, [*base, "--epochs", "2", "--resume"]) == 0
    log = capsys.readouterr().out
    assert log.count("저장된 결과를 씁니다") == 3 and "1 에폭 다음부터" in log  # 4~6절은 저장된 결과로
    assert "탐색 1 " not in log and "ReLU 에폭" not in log  # 이어서 학습할 때는 비교 실험·탐색을 다시 하지 않음
    m = read_metrics(out, NAME, quick=False)
    assert m["epochs"] == 2 and "--resume" in m["command"] and len(m["metrics"]["search"]) == 8
    assert "activation_val_accuracy_relu" in m["metrics"]

    # 대체 데이터의 테스트 이미지를 '밝은 배경에 어두운 옷'으로 저장해 --predict (반전·크기 조절 확인)
    _, _, test_x, _ = fashion_stand_in(seed=42)
    photos = tmp_path / "내 옷 사진"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(255 - test_x[i, 0].numpy()).resize((90, 90)).save(photos / f"옷 {i}.png")
    (photos / "메모.png").write_text("이미지가 아님", encoding="utf-8")
    assert run_main(L02, [*base, "--predict", str(photos / "옷 0.png"), str(photos / "옷 1.png")]) == 0
    table = capsys.readouterr().out
    assert "옷 0.png" in table and "%" in table
    assert any(name in table for name in FASHION_CLASSES_KO)
    # 폴더도 받음: 같은 옷을 '어두운 배경'과 '밝은 배경'으로 저장하면 반전 후 같은 입력 → 같은 예측 표
    closet = tmp_path / "옷장"
    closet.mkdir()
    Image.fromarray(test_x[5, 0].numpy()).save(closet / "a 어두운 배경.png")
    Image.fromarray(255 - test_x[5, 0].numpy()).save(closet / "b 밝은 배경.png")
    assert run_main(L02, [*base, "--predict", str(closet)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "배경.png" in line]
    assert len(rows) == 2 and rows[0].split(".png")[1].strip() == rows[1].split(".png")[1].strip()
    assert any(name in rows[0] for name in FASHION_CLASSES_KO)
    assert run_main(L02, [*base, "--predict", str(photos / "메모.png")]) == 2
    assert "이미지로 읽을 수 없는" in capsys.readouterr().err
    assert run_main(L02, [*base, "--predict", str(photos / "없음.png")]) == 2
    assert "찾을 수 없습니다" in capsys.readouterr().err


def test_predict_without_checkpoint(tmp_path, capsys):
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(img)
    assert run_main(L02, ["--predict", str(img), "--out-dir", str(tmp_path / "없는 결과")]) == 2
    assert "체크포인트가 없습니다" in capsys.readouterr().err
