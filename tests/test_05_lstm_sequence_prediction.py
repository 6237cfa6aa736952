"""레슨 05 (LSTM 주가 예측) 테스트: 윈도우 정렬, 누수 없는 스케일러, 직접 만든 LSTM 셀, CSV 정리와 오류,
대체 데이터로 빠른 실행, 조기 종료와 --resume. (실제 데이터의 --quick 실행은 tests/test_notebooks.py 가 합니다.)"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import lesson, read_metrics, run_main
from utils import model_utils
from utils.datasets import stocks
from utils.model_utils import load_checkpoint

NAME = "05_lstm_sequence_prediction"
FIGURES = ["01_data_split.png", "02_sliding_window.png", "03_learning_curve.png", "04_test_forecast.png",
           "05_baselines.png", "06_multistep_fan.png"]


@pytest.fixture(scope="module")
def mod():
    return lesson(NAME)


def gbm_frame(mod, n_days=400, seed=0) -> pd.DataFrame:
    raw = stocks.geometric_brownian_motion(n_days=n_days, seed=seed)
    return mod.clean_prices(stocks.parse_prices(raw, ["Close"]), ["Close"])[0]


# ---------------------------------------------------------------------------
# 윈도우 슬라이딩: 모양과 정렬 (정답은 윈도우 바로 다음 값)
# ---------------------------------------------------------------------------
def test_windows_shapes_and_alignment(mod):
    series = torch.arange(100.0)
    features = torch.stack([series, -series], dim=1)
    x, y = mod.make_windows(features, series, window=7, horizon=3)
    assert x.shape == (100 - 7 - 3 + 1, 7, 2) and y.shape == (91, 3)
    assert torch.equal(x[0, :, 0], torch.arange(7.0))
    assert torch.equal(y[0], torch.tensor([7.0, 8.0, 9.0]))           # 입력 0..6 → 정답 7, 8, 9
    assert torch.equal(y[:, 0], x[:, -1, 0] + 1)                        # 모든 예제: 정답 = 마지막 입력의 다음 날
    assert torch.equal(y[-1], torch.tensor([97.0, 98.0, 99.0]))         # 마지막 값까지 빠짐없이


def test_prepared_splits_are_chronological_and_aligned(mod):
    data = mod.prepare_data(gbm_frame(mod), window=10, horizon=5, test_start=None)
    scaled_target = data.scaler.transform(torch.tensor(data.raw, dtype=torch.float32))[:, 0]
    for x, y, origin in data.splits.values():
        assert torch.equal(y[:, 0], scaled_target[origin + 1])          # 정답 = '오늘' 다음 날의 수익률
    _, _, o_train = data.splits["train"]
    _, _, o_val = data.splits["val"]
    _, _, o_test = data.splits["test"]
    assert o_train.max() + 5 < data.val_start                             # 학습 정답이 검증 구간에 닿지 않음
    assert o_val.min() + 1 >= data.val_start and o_val.max() + 5 < data.test_start
    assert o_test.min() + 1 == data.test_start and o_test.max() + 5 == len(data.dates) - 1
    # 로그 수익률이 종가와 같은 날짜에 맞춰져 있음: r_t = log(C_t / C_{t-1})
    np.testing.assert_allclose(data.raw[1:, 0], np.diff(np.log(data.close)), rtol=1e-12)


def test_test_start_date_option(mod):
    df = gbm_frame(mod)
    data = mod.prepare_data(df, window=10, horizon=1, test_start="2019-01-02")
    assert data.dates.iloc[data.test_start] == pd.Timestamp("2019-01-02")
    assert data.dates.iloc[data.test_start - 1] < pd.Timestamp("2019-01-02")


# ---------------------------------------------------------------------------
# 데이터 누수: 테스트 구간의 값은 스케일러와 학습·검증 예제에 영향을 줄 수 없음
# ---------------------------------------------------------------------------
def test_scaler_is_fit_on_train_only(mod):
    df = gbm_frame(mod)
    base = mod.prepare_data(df, window=10, horizon=5, test_start=None, extra=False)
    changed = df.copy()
    test_rows = changed.index >= base.test_start + 1                       # 특성 행 = 원래 행 - 1
    changed.loc[test_rows, "Close"] *= np.linspace(3, 30, test_rows.sum())  # 테스트 구간을 크게 망가뜨림
    other = mod.prepare_data(changed, window=10, horizon=5, test_start=None, extra=False)
    assert torch.equal(base.scaler.mean, other.scaler.mean) and torch.equal(base.scaler.std, other.scaler.std)
    for split in ["train", "val"]:
        for a, b in zip(base.splits[split], other.splits[split]):
            assert torch.equal(a, b)
    assert not torch.equal(base.splits["test"][1], other.splits["test"][1])
    # 스케일러 값은 학습 구간만으로 계산한 값과 정확히 같음
    train_values = torch.tensor(base.raw[:base.val_start], dtype=torch.float32)
    assert torch.allclose(base.scaler.mean, train_values.mean(0))


# ---------------------------------------------------------------------------
# 직접 만든 LSTM 셀 vs nn.LSTM (값과 그래디언트, 라이브러리 LSTM은 막아 둔 채로)
# ---------------------------------------------------------------------------
def _forbid(*args, **kwargs):
    raise AssertionError("직접 만든 LSTM이 라이브러리 LSTM을 호출했습니다")


def test_scratch_lstm_matches_nn_lstm(mod, monkeypatch):
    torch.manual_seed(0)
    cell = mod.ScratchLSTMCell(3, 6).double()
    reference = nn.LSTM(3, 6, batch_first=True).double()
    with torch.no_grad():
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            getattr(reference, f"{name}_l0").copy_(getattr(cell, name))
    x = torch.randn(4, 9, 3, dtype=torch.double)
    probe = torch.randn(4, 9, 6, dtype=torch.double)
    x_scratch, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()

    with monkeypatch.context() as m:
        for target, attr in [(nn.LSTM, "forward"), (nn.LSTMCell, "forward"), (torch, "lstm"), (torch, "lstm_cell")]:
            m.setattr(target, attr, _forbid)
        out, (h, c) = mod.run_scratch_lstm(cell, x_scratch)
        ((out * probe).sum() + h.sum() + 2 * c.sum()).backward()
    ref_out, (ref_h, ref_c) = reference(x_ref)
    ((ref_out * probe).sum() + ref_h.sum() + 2 * ref_c.sum()).backward()

    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-12)
    torch.testing.assert_close((h, c), (ref_h, ref_c), rtol=0, atol=1e-12)
    torch.testing.assert_close(x_scratch.grad, x_ref.grad, rtol=0, atol=1e-12)
    for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
        torch.testing.assert_close(getattr(cell, name).grad, getattr(reference, f"{name}_l0").grad,
                                   rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# CSV 정리: null 행, 거래량 0, 뒤섞인 날짜, 중복 날짜
# ---------------------------------------------------------------------------
def messy_frame() -> pd.DataFrame:
    rows = [("2024-01-03", "102", "10"), ("2024-01-02", "101", "10"), ("2024-01-04", "null", "null"),
            ("2024-01-05", "103", "0"), ("2024-01-08", "104", "12"), ("2024-01-08", "105", "13"),
            ("2024-01-09", "106", "11")]
    return pd.DataFrame(rows, columns=["Date", "Close", "Volume"]).astype(str)


def test_cleaning_reports_every_fix(mod, capsys):
    df, report = mod.clean_prices(stocks.parse_prices(messy_frame(), ["Close"]), ["Close"])
    assert report == {"rows_read": 7, "null_rows": 1, "zero_volume_rows": 1, "was_unsorted": True,
                      "duplicate_dates": 1, "rows_kept": 4}
    assert df["Date"].dt.strftime("%m-%d").tolist() == ["01-02", "01-03", "01-08", "01-09"]
    assert df["Close"].tolist() == [101, 102, 105, 106]                  # 중복 날짜는 마지막 줄을 남김
    mod.print_cleaning_report(report)
    out = capsys.readouterr().out
    assert "빈 값(null) 행 제거: 1개" in out and "거래량 0인 행 제거: 1개" in out
    assert "중복 날짜 제거: 1개" in out and "날짜순으로 정렬" in out


# ---------------------------------------------------------------------------
# 잘못된 CSV → 한국어 메시지, 종료 코드 2, 트레이스백 없음
# ---------------------------------------------------------------------------
def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def good_lines(n):
    return "".join(f"2020-01-{1 + i:02d},{100 + i},{101 + i},{99 + i},{100 + i},{100 + i},1000\n" for i in range(n))


HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"


@pytest.mark.parametrize("case, text, expected", [
    ("empty", "", "CSV 파일이 비어 있습니다"),
    ("header_only", HEADER, "데이터 행이 없습니다"),
    ("missing_column", "Date,Open,High,Low,Volume\n2020-01-02,1,1,1,5\n", "필요한 열이 없습니다: Close"),
    ("text_price", HEADER + "2020-01-02,1,1,1,100,100,5\n2020-01-03,1,1,1,abc,100,5\n",
     "'Close' 열에 숫자가 아닌 값이 있습니다: 3번째 줄 'abc'"),
    ("bad_date", HEADER + "어제,1,1,1,100,100,5\n", "'Date' 열을 날짜로 읽을 수 없습니다"),
    ("too_few_rows", HEADER + good_lines(28), "데이터가 너무 짧습니다"),
    ("zero_price", HEADER + "2020-01-02,1,1,1,0,0,5\n", "0 이하인 날"),
])
def test_bad_csv_gives_korean_error(mod, tmp_path, capsys, case, text, expected):
    path = write_csv(tmp_path / f"{case}.csv", text)
    code = run_main(mod, ["--csv", str(path), "--out-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and "[오류]" in err
    assert "Traceback" not in err


def test_missing_csv_and_missing_extra_columns(mod, tmp_path, capsys):
    assert run_main(mod, ["--csv", str(tmp_path / "없음.csv"), "--out-dir", str(tmp_path)]) == 2
    assert "--csv 로 준 파일이 없습니다" in capsys.readouterr().err
    path = write_csv(tmp_path / "close_only.csv", "Date,Close\n" + "".join(
        f"2020-{1 + i // 28:02d}-{1 + i % 28:02d},{100 + i}\n" for i in range(200)))
    assert run_main(mod, ["--csv", str(path), "--extra-features", "--out-dir", str(tmp_path)]) == 2
    assert "필요한 열이 CSV에 없습니다: High, Low, Volume" in capsys.readouterr().err


def test_require_data_and_bad_options(mod, empty_data_dir, tmp_path, capsys):
    code = run_main(mod, ["--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2 and "005930.KS.csv" in capsys.readouterr().err
    assert run_main(mod, ["--test-start", "내일"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_download_is_optional(empty_data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "yfinance", None)   # yfinance 가 설치되지 않은 컴퓨터
    assert stocks.download(empty_data_dir) is False
    assert "pip install yfinance" in capsys.readouterr().out
    (tmp_path / "stocks").mkdir()
    for ticker in stocks.TICKERS:                       # 세 파일이 이미 있으면 아무것도 받지 않음 (yfinance 없이도)
        stocks.csv_path(tmp_path, ticker).write_text(HEADER, encoding="utf-8")
    assert stocks.download(tmp_path) is True


# ---------------------------------------------------------------------------
# 대체 데이터(GBM)로 빠른 실행, 체크포인트, 조기 종료와 --resume
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fallback_quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs05")
    empty = tmp_path_factory.mktemp("빈 데이터")
    code = run_main(lesson(NAME), ["--quick", "--no-download", "--data-dir", str(empty), "--out-dir", str(out)])
    return code, out


def test_quick_run_on_fallback(fallback_quick_run):
    code, out = fallback_quick_run
    assert code == 0
    record = read_metrics(out, NAME)
    assert record["data_source"] == "fallback" and record["lesson"] == NAME
    assert record["dataset"] == stocks.FALLBACK_NAME
    m = record["metrics"]
    for key in ["rmse", "naive_rmse", "direction_accuracy", "mae", "mape", "up_day_share",
                "moving_average_rmse", "linear_rmse", "price_target_rmse"]:
        assert np.isfinite(m[key]), key
    assert 0 <= m["direction_accuracy"] <= 1 and 0 < m["up_day_share"] < 1
    # --quick: 최근 700 거래일, 윈도우 20, 5일 예측, 2에폭. 분할 크기는 날짜 계산으로 정해집니다.
    assert (m["window"], m["horizon"], m["epochs_run"], record["epochs"]) == (20, 5, 2, 2)
    assert (record["n_train"], m["n_val"], record["n_test"]) == (480, 86, 101)
    assert (m["test_start"], m["test_end"]) == ("2023-05-09", "2023-10-02")   # 가짜 주가의 영업일 달력
    # 랜덤 워크: 어떤 모델도 naive를 크게 이길 수 없습니다 (LSTM은 10 % 이내)
    assert m["rmse"] <= 1.1 * m["naive_rmse"]
    assert m["rmse_ratio_to_naive"] == pytest.approx(m["rmse"] / m["naive_rmse"])
    for name in FIGURES:
        assert (out / f"{NAME}-quick" / name).stat().st_size > 10_000, name


def test_checkpoint_holds_scaler_as_tensors(fallback_quick_run, mod):
    _, out = fallback_quick_run
    state = load_checkpoint(out / f"{NAME}-quick" / "checkpoint.pt")      # weights_only=True
    config = state["config"]
    assert isinstance(state["scaler"]["mean"], torch.Tensor) and state["scaler"]["std"].shape == (1,)
    assert config["target"] == "return" and config["window"] == 20 and config["hidden"] == 16
    model = mod.LSTMForecaster(1, config["hidden"], config["layers"], config["horizon"], dropout=0.2)
    model.load_state_dict(state["best"]["model"])
    assert state["best"]["epoch"] == state["history"]["best_epoch"]
    # 체크포인트의 스케일러 = 같은 가짜 주가의 학습 구간만으로 다시 계산한 값
    raw = stocks.geometric_brownian_motion(seed=42)
    df, _ = mod.clean_prices(stocks.parse_prices(raw, ["Close"]), ["Close"])
    data = mod.prepare_data(df.tail(mod.QUICK_ROWS).reset_index(drop=True), 20, config["horizon"], None)
    torch.testing.assert_close(state["scaler"]["mean"], data.scaler.mean)
    torch.testing.assert_close(state["scaler"]["std"], data.scaler.std)


def test_early_stopping_and_resume_match_straight_run(mod, empty_data_dir, tmp_path, capsys, monkeypatch):
    """검증 손실 기준 조기 종료의 규칙과, 중단 후 --resume 한 결과가 끊기지 않은 실행과 똑같은지."""
    base = ["--no-download", "--data-dir", str(empty_data_dir), "--epochs", "4", "--patience", "2",
            "--window", "10", "--hidden", "8", "--horizon", "2"]
    assert run_main(mod, [*base, "--out-dir", str(tmp_path / "a")]) == 0
    real_evaluate, calls = model_utils.evaluate, []

    def interrupt_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:                  # 본 모델의 2에폭 검증 중에 Ctrl+C
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(model_utils, "evaluate", interrupt_second_epoch)
        assert run_main(mod, [*base, "--out-dir", str(tmp_path / "b")]) == 130
    assert "--resume" in capsys.readouterr().err
    assert run_main(mod, [*base, "--out-dir", str(tmp_path / "b"), "--resume"]) == 0
    assert "[이어서 학습]" in capsys.readouterr().out
    straight = read_metrics(tmp_path / "a", NAME, quick=False)
    resumed = read_metrics(tmp_path / "b", NAME, quick=False)
    assert resumed["metrics"] == straight["metrics"]
    # 조기 종료: 최고 에폭 = 검증 손실이 (처음으로) 가장 낮은 에폭, 그 뒤 patience 에폭 동안 나아지지 않으면 멈춤
    for run_dir in [tmp_path / "a" / NAME, tmp_path / "b" / NAME]:
        state = load_checkpoint(run_dir / "checkpoint.pt")
        val, best = state["history"]["val_loss"], state["best"]["epoch"]
        assert best == int(np.argmin(val)) + 1 == resumed["metrics"]["best_epoch"]
        assert len(val) == resumed["metrics"]["epochs_run"]
        assert len(val) == 4 or len(val) - best == 2
