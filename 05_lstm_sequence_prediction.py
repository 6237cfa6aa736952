# %% [markdown]
# # 05. LSTM 시계열 예측 — 주가를 '정직하게' 예측해 보기
#
# **학습 목표**
# - 주가 CSV를 정리하는 법: 빈 값(null) 행, 거래량 0인 휴장일 행, 중복·뒤섞인 날짜.
# - 시간 순서대로 학습/검증/테스트 세트를 나누고, 스케일링(scaling) 기준을 학습 구간에서만 구해
#   데이터 누수(data leakage)를 막습니다.
# - 윈도우 슬라이딩(sliding window)으로 '지난 N일 → 다음 H일' 학습 예제를 만듭니다.
# - LSTM 셀을 텐서 연산으로 직접 써 보고 `nn.LSTM` 과 같은 값을 내는지 확인합니다.
# - 예측을 반드시 단순한 기준선(baseline)과 같은 날짜·같은 가격 단위로 비교합니다:
#   '내일 = 오늘'(naive), 이동평균, 선형 회귀. 주가는 랜덤 워크에 가까워서 naive를 이기기 어렵습니다.
#
# **데이터셋**: Yahoo Finance 형식의 일별 OHLCV CSV (Date, Open, High, Low, Close, Adj Close, Volume):
# `DL_DATA_DIR/stocks/` 의 삼성전자 `005930.KS.csv` (기본), 코스피 `KS11.csv`, S&P 500 `GSPC.csv`.
# `--csv` 로 같은 열을 가진 자기 파일을 쓸 수 있습니다. 파일이 없으면 시드를 고정한 기하 브라운 운동(GBM)으로
# 만든 가짜 주가로 계속합니다 (크게 알리고 결과에 `fallback` 으로 기록). 찾기·읽기는 `utils/datasets/stocks.py`.
#
# **핵심 개념**: 가격 대신 로그 수익률(log-return)을 예측하는 이유 · 학습 구간에만 맞춘 스케일러 ·
# 윈도우와 예측 지평(horizon) · LSTM의 네 게이트(입력·망각·후보·출력) · 검증 손실 기준 조기 종료 ·
# RMSE / MAE / MAPE / 방향 정확도 · '항상 상승' 기준선(상승일 비율)
#
# **실행 방법**
# ```
# python 05_lstm_sequence_prediction.py                       # 삼성전자, 기본 설정
# python 05_lstm_sequence_prediction.py --quick               # 몇 초 만에 전체 흐름 확인
# python 05_lstm_sequence_prediction.py --ticker KS11 --test-start 2020-01-01
# python 05_lstm_sequence_prediction.py --csv 내주식.csv --window 30 --horizon 5
# python 05_lstm_sequence_prediction.py --target price        # 가격을 직접 예측하면 무엇이 잘못되는지 보기
# python 05_lstm_sequence_prediction.py --extra-features      # 거래량 변화·고가-저가 폭도 입력으로
# ```
# 노트북(`notebooks/05_lstm_sequence_prediction.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 기본 실행 약 25초, `--quick` 은 몇 초.
# 모델이 작아 GPU로 옮겨도 크게 빨라지지 않습니다.
#
# ※ 이 레슨은 딥러닝 교육용입니다. 결과는 투자 조언이 아닙니다.

# %%
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import torch
from torch import nn

from utils.chapter import section, start_chapter
from utils.data_utils import TensorBatches
from utils.datasets import stocks
from utils.model_utils import CourseError, count_parameters, cpu_threads, fit, make_parser, positive_int
from utils.visualization import new_figure, save_figure

# %% tags=["parameters"]
QUICK = False      # True: 최근 700 거래일, 2에폭, 작은 모델로 몇 초 만에 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--window` …)을, 노트북에서는 위 매개변수 셀을 씁니다.
# 시드를 고정하고 장치(CPU/GPU)와 결과 폴더를 정합니다.

# %%
LESSON = "05_lstm_sequence_prediction"
EXTRA_COLUMNS = ["High", "Low", "Volume"]          # --extra-features 에 필요한 열
TEST_FRACTION = 0.15   # 기본 테스트 구간: 마지막 15 % 의 거래일
VAL_FRACTION = 0.15    # 검증 구간: 테스트 이전 구간의 마지막 15 %
TRAIN_SHARE = (1 - TEST_FRACTION) * (1 - VAL_FRACTION)
MA_DAYS = 5            # 이동평균 기준선의 길이
NAIVE_ROW = "naive (내일 = 오늘)"
PRICE_TARGET_ROW = "LSTM (종가 직접)"
QUICK_ROWS = 700       # --quick: 최근 700 거래일만 사용
DISCLAIMER = "※ 교육용 예제입니다. 이 예측은 투자 조언이 아니며, 과거 성과가 미래를 보장하지 않습니다."


def build_parser():
    p = make_parser(f"{LESSON}.py", "LSTM으로 주가 시계열을 예측하고 단순 기준선과 정직하게 비교합니다.",
                    epochs=40, batch_size=64, lr=1e-3)
    stocks.add_options(p)  # --ticker, --csv, --test-start
    p.add_argument("--window", type=positive_int, default=60, help="입력 윈도우 길이(거래일, 기본 60)")
    p.add_argument("--horizon", type=positive_int, default=5, help="몇 거래일 앞까지 예측할지 (기본 5)")
    p.add_argument("--target", choices=["return", "price"], default="return",
                   help="예측 대상: return(로그 수익률, 기본) 또는 price(종가를 직접: 흔한 실수 체험용)")
    p.add_argument("--extra-features", action="store_true", help="거래량 로그 변화와 고가-저가 폭을 입력에 추가")
    p.add_argument("--hidden", type=positive_int, default=32, help="LSTM 은닉 크기 (기본 32)")
    p.add_argument("--layers", type=positive_int, default=1, help="LSTM 층 수 (기본 1)")
    p.add_argument("--patience", type=positive_int, default=8, help="조기 종료: 검증 손실을 기다릴 에폭 수 (기본 8)")
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR)
    if args.quick:  # 2에폭, 20일 윈도우, 은닉 16
        args.epochs, args.window, args.hidden = min(args.epochs, 2), min(args.window, 20), min(args.hidden, 16)

# %% [markdown]
# ## 1. 주가 데이터 읽기와 정리
# Yahoo Finance 에서 받은 CSV는 그대로 쓰면 안 됩니다. 휴장일은 값이 `null` 인 줄로 남고, 어떤 파일은 휴장일에
# 전날 가격을 복사하고 거래량을 0으로 적어 둡니다. 남겨 두면 '수익률 0'인 가짜 거래일이 끼어듭니다.
# 파일을 이어 붙이면 날짜가 뒤섞이거나 같은 날짜가 두 번 나오기도 합니다. 시계열은 반드시 시간순이어야
# 윈도우가 '과거 → 미래'가 되므로, 정렬하고 중복을 지운 뒤 무엇을 지웠는지 보고합니다.

# %%
def clean_prices(df: pd.DataFrame, needed: list[str]) -> tuple[pd.DataFrame, dict]:
    """빈 행·휴장일 행·중복 날짜를 지우고 날짜순으로 정렬합니다. 무엇을 지웠는지 report로 돌려줍니다.

    df: stocks.parse_prices 가 숫자·날짜로 바꾼 표 (빈 값은 NaN). needed: 모델이 쓰는 열.
    """
    report = {"rows_read": len(df)}
    # (1) null 행: Yahoo는 휴장일을 'null'로 채웁니다. 쓸 열 중 하나라도 비면 그 날은 버립니다.
    null_rows = df[needed].isna().any(axis=1)
    report["null_rows"] = int(null_rows.sum())
    df = df[~null_rows]
    # (2) 거래량 0: 휴장일에 전날 종가를 복사해 둔 행. 남겨 두면 '수익률 0'인 가짜 거래일이 끼어듭니다.
    #     거래량이 전부 0인 파일(일부 지수·환율)은 거래량 정보가 없는 것이므로 건너뜁니다.
    has_volume = "Volume" in df and bool((df["Volume"] > 0).any())
    zero_volume = df["Volume"] == 0 if has_volume else pd.Series(False, index=df.index)
    report["zero_volume_rows"] = int(zero_volume.sum())
    df = df[~zero_volume]
    # (3) 날짜 순서와 중복: 시계열은 반드시 시간순이어야 윈도우가 '과거 → 미래'가 됩니다.
    report["was_unsorted"] = bool(not df["Date"].is_monotonic_increasing)
    df = df.sort_values("Date", kind="stable")
    duplicated = df["Date"].duplicated(keep="last")
    report["duplicate_dates"] = int(duplicated.sum())
    df = df[~duplicated].reset_index(drop=True)
    if (df["Close"] <= 0).any():
        bad_day = df.loc[df["Close"] <= 0, "Date"].iloc[0].date()
        raise CourseError(f"종가(Close)가 0 이하인 날이 있습니다: {bad_day}. 로그 수익률을 계산할 수 없습니다.")
    report["rows_kept"] = len(df)
    return df, report


def print_cleaning_report(report: dict) -> None:
    print(f"  읽은 행 {report['rows_read']:,}개 → 사용할 행 {report['rows_kept']:,}개")
    print(f"  - 빈 값(null) 행 제거: {report['null_rows']}개 (휴장일에 Yahoo가 남긴 빈 줄)")
    print(f"  - 거래량 0인 행 제거: {report['zero_volume_rows']}개 (휴장일에 전날 값을 복사한 줄)")
    print(f"  - 중복 날짜 제거: {report['duplicate_dates']}개 (같은 날짜는 마지막 줄만 남김)")
    if report["was_unsorted"]:
        print("  - 날짜 순서가 뒤섞여 있어 날짜순으로 정렬했습니다")


# %%
if __name__ == "__main__":
    section("1. 주가 데이터 읽기와 정리")
    needed = ["Close", *EXTRA_COLUMNS] if args.extra_features else ["Close"]
    stock = stocks.load(args, needed)
    print(f"  {stock.name} (출처: {stock.source})")
    df, report = clean_prices(stock.frame, needed)
    print_cleaning_report(report)
    if args.quick:
        df = df.tail(QUICK_ROWS).reset_index(drop=True)
        print(f"  --quick: 최근 {len(df)} 거래일만 사용합니다.")
    print(f"  기간: {df['Date'].iloc[0].date()} ~ {df['Date'].iloc[-1].date()}")

# %% [markdown]
# ## 2. 윈도우 슬라이딩: 지난 N일 → 다음 H일
# 시계열 하나에서 학습 예제를 여러 개 만듭니다. $i$ 번째 예제의 입력은 $x_i, \dots, x_{i+N-1}$ (윈도우 $N$일),
# 정답은 그 바로 다음 $x_{i+N}, \dots, x_{i+N+H-1}$ ($H$일 앞까지)입니다. 입력과 정답은 하루도 겹치지 않으며,
# 길이 $T$ 인 시계열에서 예제는 $T - N - H + 1$ 개 나옵니다.

# %%
def make_windows(features: torch.Tensor, target: torch.Tensor, window: int, horizon: int):
    """i번째 예제: 입력 = features[i : i+window], 정답 = target[i+window : i+window+horizon].

    정답은 윈도우 바로 다음 날부터 시작합니다 (입력과 정답이 하루도 겹치지 않음).
    돌려주는 값: x (N, window, F), y (N, horizon)
    """
    n = len(target) - window - horizon + 1
    if n <= 0:
        raise CourseError(f"윈도우({window}일) + 예측 일수({horizon}일)보다 데이터가 짧습니다 ({len(target)}일).")
    starts = torch.arange(n).unsqueeze(1)
    x = features[starts + torch.arange(window)]
    y = target[starts + window + torch.arange(horizon)]
    return x, y


def print_window_example() -> None:
    demo = torch.arange(1.0, 11.0)
    x, y = make_windows(demo.unsqueeze(1), demo, window=4, horizon=2)
    print("  예: 1~10의 수열, 윈도우 4일, 예측 2일")
    for i in range(3):
        print(f"    예제 {i}: 입력 {x[i, :, 0].int().tolist()} → 정답 {y[i].int().tolist()}")
    print(f"    ... 모두 {len(y)}개 (= 10 - 4 - 2 + 1)")


# %%
if __name__ == "__main__":
    section("2. 윈도우 슬라이딩: 지난 N일 → 다음 H일")
    print_window_example()

# %% [markdown]
# ## 3. 로그 수익률, 시간순 분할, 학습 구간에만 맞춘 스케일링
# **가격 대신 로그 수익률** $r_t = \log(C_t / C_{t-1})$ 을 예측합니다. 가격은 구간마다 범위가 달라(비정상성)
# 가격을 직접 배우면 테스트 때 처음 보는 가격대를 맞혀야 합니다. 수익률은 구간이 달라도 분포가 비슷합니다.
#
# **시간순 분할**: 시계열은 섞지 않습니다. 앞에서부터 학습 → 검증 → 테스트. 예제는 '정답 날짜'가 속한 구간에 넣어
# 학습 예제의 정답이 검증 구간에 닿지 않게 합니다.
#
# **데이터 누수 막기**: 표준화 $x' = (x - \mu)/\sigma$ 의 $\mu, \sigma$ 를 **학습 구간에서만** 구합니다.
# 전체로 구하면 테스트 구간(미래)의 정보가 학습에 새어 들어갑니다. (테스트 파일의 누수 검사: 테스트 구간을
# 크게 망가뜨려도 스케일러와 학습·검증 예제가 한 비트도 바뀌지 않아야 합니다.)

# %%
def build_features(df: pd.DataFrame, target: str, extra: bool) -> tuple[np.ndarray, list[str]]:
    """0번 열이 예측할 값입니다: 'return'이면 로그 수익률 log(C_t / C_{t-1}), 'price'면 종가 그대로.

    첫날은 수익률이 없으므로 모든 특성에서 첫 행을 버립니다 (df.iloc[1:] 와 같은 날짜에 맞춰짐).
    """
    close = df["Close"].to_numpy(float)
    if target == "return":
        columns = {"로그 수익률": np.diff(np.log(close))}
    else:
        columns = {"종가": close[1:]}
    if extra:
        columns["거래량 로그 변화"] = np.diff(np.log(df["Volume"].to_numpy(float)))
        columns["고가-저가 폭"] = ((df["High"] - df["Low"]) / df["Close"]).to_numpy(float)[1:]
    return np.stack(list(columns.values()), axis=1), list(columns)


@dataclass
class Scaler:
    """표준화 x' = (x - mean) / std. mean·std는 텐서라 체크포인트에 그대로 저장됩니다 (weights_only 로딩 가능)."""
    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, train_values: torch.Tensor) -> "Scaler":
        return cls(train_values.mean(0), train_values.std(0).clamp_min(1e-8))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse_target(self, y: torch.Tensor) -> torch.Tensor:
        """모델 출력(0번 특성의 표준화된 값)을 원래 단위로 되돌립니다."""
        return y * self.std[0] + self.mean[0]

    def state_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std}


def split_points(dates: pd.Series, test_start: str | None) -> tuple[int, int]:
    """(검증 시작 행, 테스트 시작 행). 시계열은 절대 섞지 않고 시간순으로 자릅니다."""
    n = len(dates)
    if test_start is None:
        test_idx = int(n * (1 - TEST_FRACTION))
    else:
        test_idx = int(np.searchsorted(dates.to_numpy(), np.datetime64(pd.Timestamp(test_start))))
        if test_idx == 0:
            raise CourseError(f"--test-start {test_start} 이전의 데이터가 없습니다 "
                              f"(첫 날짜 {dates.iloc[0].date()}). 학습할 과거가 필요합니다.")
        if test_idx >= n:
            raise CourseError(f"--test-start {test_start} 이후의 데이터가 없습니다 "
                              f"(마지막 날짜 {dates.iloc[-1].date()}).")
    return int(test_idx * (1 - VAL_FRACTION)), test_idx


@dataclass
class Prepared:
    """모델에 들어갈 모든 것. origin은 각 예제의 '오늘'(윈도우 마지막 날)의 행 번호입니다."""
    dates: pd.Series          # 특성 행과 같은 날짜 (첫날 제외)
    close: np.ndarray         # 같은 날짜의 종가 (원래 가격 단위)
    raw: np.ndarray           # 스케일링 전 특성 (그림용)
    names: list[str]
    scaler: Scaler
    val_start: int
    test_start: int
    splits: dict              # 이름 → (x, y, origin)


def prepare_data(df: pd.DataFrame, window: int, horizon: int, test_start: str | None,
                 target: str = "return", extra: bool = False) -> Prepared:
    """특성 → 분할 → 스케일러(학습 구간만) → 윈도우. 예제는 '정답 날짜'가 속한 구간에 들어갑니다."""
    raw, names = build_features(df, target, extra)
    dates, close = df["Date"].iloc[1:].reset_index(drop=True), df["Close"].to_numpy(float)[1:]
    val_start, test_idx = split_points(dates, test_start)
    n_min = window + horizon + 1
    if val_start < n_min or test_idx - val_start < horizon + 1 or len(dates) - test_idx < horizon + 1:
        raise CourseError(f"데이터가 너무 짧습니다: 정리 후 {len(dates) + 1}일. 윈도우 {window}일 + 예측 {horizon}일로 "
                          f"학습/검증/테스트를 만들려면 적어도 약 {math.ceil(n_min / TRAIN_SHARE) + 2}일이 필요합니다.\n"
                          "       --window 를 줄이거나 더 긴 기간의 CSV를 쓰세요.")
    values = torch.tensor(raw, dtype=torch.float32)
    scaler = Scaler.fit(values[:val_start])  # ← 학습 구간만! 검증·테스트 값은 여기 들어가지 않습니다
    scaled = scaler.transform(values)
    x, y = make_windows(scaled, scaled[:, 0], window, horizon)
    origin = torch.arange(len(y)) + window - 1      # 윈도우의 마지막 날 = '오늘'
    first_target, last_target = origin + 1, origin + horizon
    masks = {"train": last_target < val_start,
             "val": (first_target >= val_start) & (last_target < test_idx),
             "test": first_target >= test_idx}
    splits = {k: (x[m], y[m], origin[m]) for k, m in masks.items()}
    return Prepared(dates, close, raw, names, scaler, val_start, test_idx, splits)


def style_axes(axes, date_axis: bool = True) -> None:
    """격자·범례, 그리고 겹치지 않는 한국어 날짜 눈금 ('2023', '3월', '15일')."""
    for ax in np.ravel(axes):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        if date_axis:
            locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(
                locator, formats=["%Y", "%m월", "%d일", "%H:%M", "%H:%M", "%S"],
                zero_formats=["", "%Y", "%m월", "%m-%d", "%H:%M", "%H:%M"],
                offset_formats=["", "%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d"]))


def plot_data_and_split(data: Prepared, title: str, path: Path) -> Path:
    """위: 가격과 로그 수익률에 학습/검증/테스트 구간 표시. 아래: 학습·테스트 구간의 분포 비교."""
    fig, axes = new_figure(ncols=2, nrows=2, size=(6.5, 3.4))
    returns = np.diff(np.log(data.close), prepend=np.nan)
    parts = {"학습": slice(0, data.val_start), "검증": slice(data.val_start, data.test_start),
             "테스트": slice(data.test_start, None)}
    colors = {"학습": "tab:blue", "검증": "tab:orange", "테스트": "tab:red"}
    for name, part in parts.items():
        axes[0, 0].plot(data.dates.iloc[part], data.close[part], color=colors[name], lw=0.8, label=name)
        axes[0, 1].plot(data.dates.iloc[part], returns[part], color=colors[name], lw=0.4, label=name)
    for name in ["학습", "테스트"]:
        axes[1, 0].hist(data.close[parts[name]], bins=50, alpha=0.6, density=True, color=colors[name], label=name)
        axes[1, 1].hist(returns[parts[name]], bins=80, alpha=0.6, density=True, color=colors[name], label=name,
                        range=(-0.1, 0.1))
    axes[0, 0].set(title=f"{title}: 종가와 시간순 분할", ylabel="종가")
    axes[0, 1].set(title="로그 수익률 log(오늘/어제)", ylabel="로그 수익률")
    train, test = data.close[parts["학습"]], data.close[parts["테스트"]]
    outside = np.mean((test > train.max()) | (test < train.min()))
    axes[1, 0].set(title=f"종가 분포: 테스트 날의 {outside:.0%}가 학습 범위 밖", xlabel="종가", ylabel="밀도")
    axes[1, 1].set(title="로그 수익률 분포: 두 구간이 비슷함", xlabel="로그 수익률", ylabel="밀도")
    style_axes(axes[0])
    style_axes(axes[1], date_axis=False)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_window_example(data: Prepared, window: int, horizon: int, path: Path, shift: int = 10) -> Path:
    """실제 데이터의 학습 예제 두 개: 색칠한 window일이 입력, 그다음 horizon일이 정답. 아래는 shift칸 민 예제."""
    fig, axes = new_figure(nrows=2, size=(9, 2.8))
    span = np.arange(0, min(window + horizon + shift + 10, len(data.raw)))
    for ax, start in zip(axes[:, 0], [0, shift]):
        ax.plot(span, data.raw[span, 0], "-o", ms=2.5, color="gray", lw=0.8, label=data.names[0])
        ax.axvspan(start - 0.5, start + window - 0.5, color="tab:blue", alpha=0.15, label=f"입력 윈도우 ({window}일)")
        ax.axvspan(start + window - 0.5, start + window + horizon - 0.5, color="tab:red", alpha=0.25,
                   label=f"정답 ({horizon}일)")
        ax.axvline(start + window - 1, color="tab:blue", ls="--", lw=1, label="'오늘' (윈도우 마지막 날)")
        ax.set(title=f"예제 {start}: 입력 {start}~{start + window - 1}번째 날, 정답 {start + window}~"
                     f"{start + window + horizon - 1}번째 날", ylabel=data.names[0])
        style_axes(ax, date_axis=False)
        ax.legend(fontsize=7, loc="upper right")
    axes[1, 0].set_xlabel("거래일 번호")
    fig.suptitle(f"윈도우 슬라이딩: 한 칸씩 밀며 (입력, 정답) 예제를 만듭니다 (아래는 {shift}칸 민 예제)")
    fig.tight_layout()
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("3. 로그 수익률, 시간순 분할, 학습 구간에만 맞춘 스케일링")
    data = prepare_data(df, args.window, args.horizon, args.test_start, args.target, args.extra_features)
    n = {k: len(v[1]) for k, v in data.splits.items()}
    print(f"  입력 특성: {', '.join(data.names)} | 윈도우 {args.window}일 → {args.horizon}일 예측")
    print(f"  학습 {n['train']:,}개 / 검증 {n['val']:,}개 / 테스트 {n['test']:,}개 예제 "
          f"(테스트 시작 {data.dates.iloc[data.test_start].date()})")
    print(f"  스케일러(학습 구간에서만 계산): 평균 {data.scaler.mean.tolist()}, 표준편차 {data.scaler.std.tolist()}")
    train_prices, test_prices = data.close[:data.val_start], data.close[data.test_start:]
    print(f"  종가 범위 — 학습: {train_prices.min():,.0f}~{train_prices.max():,.0f}, "
          f"테스트: {test_prices.min():,.0f}~{test_prices.max():,.0f}. 가격은 구간마다 범위가 달라(비정상성)\n"
          "  가격을 직접 배우면 처음 보는 가격대를 맞혀야 합니다. 로그 수익률은 구간이 달라도 분포가 비슷합니다.")
    plot_data_and_split(data, stock.name, run.path("01_data_split.png"))
    plot_window_example(data, args.window, args.horizon, run.path("02_sliding_window.png"))

# %% [markdown]
# ## 4. LSTM 셀을 직접 구현해 `nn.LSTM` 과 비교
# 한 시점에서 LSTM은 입력 $x_t$ 와 이전 은닉 상태 $h_{t-1}$ 로 네 게이트를 계산합니다 (PyTorch와 같은 순서):
#
# $$[i, f, g, o] = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}$$
# $$c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad h_t = \sigma(o) \odot \tanh(c_t)$$
#
# 입력 게이트 $i$ 는 새 정보를 얼마나 넣을지, 망각 게이트 $f$ 는 예전 기억을 얼마나 남길지, 후보 $g$ 는 넣을 값,
# 출력 게이트 $o$ 는 기억 중 얼마를 내보낼지 정합니다. 셀 상태 $c_t$ 가 곱셈이 아니라 **덧셈**으로 이어지므로
# 그래디언트 소실(vanishing gradient)이 줄어듭니다. 같은 가중치를 넣으면 `nn.LSTM` 과 같은 값이 나와야 합니다.

# %%
class ScratchLSTMCell(nn.Module):
    """한 시점의 LSTM. 게이트 순서는 PyTorch와 같게 [입력 i, 망각 f, 후보 g, 출력 o].

    c_t = f ⊙ c_{t-1} + i ⊙ g   ← 덧셈으로 이어지는 '셀 상태' 덕분에 그래디언트 소실(vanishing gradient)이 줄어듭니다
    h_t = o ⊙ tanh(c_t)
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))

    def forward(self, x_t, state):
        h, c = state
        gates = x_t @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


def run_scratch_lstm(cell: ScratchLSTMCell, x: torch.Tensor):
    """(배치, 시간, 특성) 입력을 시간 순서대로 셀에 넣습니다. nn.LSTM(batch_first=True)과 같은 출력 형태."""
    h = x.new_zeros(x.shape[0], cell.hidden_size)
    c = torch.zeros_like(h)
    outputs = []
    for t in range(x.shape[1]):
        h, c = cell(x[:, t], (h, c))
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))


def compare_with_nn_lstm(seed: int = 0) -> float:
    """같은 가중치를 넣은 nn.LSTM과 직접 만든 셀의 출력 차이 (학습자에게 보여 주는 확인)."""
    torch.manual_seed(seed)
    cell, reference = ScratchLSTMCell(3, 8), nn.LSTM(3, 8, batch_first=True)
    with torch.no_grad():
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            getattr(reference, f"{name}_l0").copy_(getattr(cell, name))
    x = torch.randn(4, 12, 3)
    with torch.no_grad():
        return (run_scratch_lstm(cell, x)[0] - reference(x)[0]).abs().max().item()


# %%
if __name__ == "__main__":
    section("4. LSTM 셀을 직접 구현해 nn.LSTM과 비교")
    # 이 확인은 시드를 다시 고정하므로, 뒤의 모델 초기값도 이 시드에서 이어집니다 (결과를 재현하는 순서).
    print(f"  같은 가중치를 넣었을 때 출력의 최대 차이: {compare_with_nn_lstm(args.seed):.2e} (0에 가까우면 같은 계산)")

# %% [markdown]
# ## 5. `nn.LSTM` 예측 모델 학습 (검증 손실로 조기 종료)
# 예측 모델은 `nn.LSTM` → 마지막 시점의 은닉 상태 → 선형 층으로 다음 $H$일의 (표준화된) 값을 한 번에 냅니다.
# 손실은 MSE, 옵티마이저는 Adam, 그래디언트 클리핑(gradient clipping)으로 큰 갱신을 막습니다.
# 검증 손실이 `--patience` 에폭 동안 나아지지 않으면 멈추고(조기 종료), 검증 손실이 가장 낮았던 에폭의 가중치로
# 되돌립니다. 테스트 구간은 여기서 한 번도 쓰지 않습니다: 언제 멈출지와 어떤 가중치를 쓸지는 검증 구간만 보고 정합니다.
#
# 비교 기준: 늘 학습 구간의 평균 수익률만 말하는 예측(표준화 공간의 0)의 검증 손실. LSTM이 이보다 크게 낮지 않다면
# 과거 수익률에서 배울 만한 규칙이 거의 없다는 뜻입니다.

# %%
class LSTMForecaster(nn.Module):
    """nn.LSTM → 마지막 시점의 은닉 상태 → 다음 horizon일의 (표준화된) 값을 한 번에 예측."""

    def __init__(self, n_features: int, hidden: int, layers: int, horizon: int, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, horizon))

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def train_model(data: Prepared, args, run, target: str, checkpoint: Path):
    """모델을 만들고 검증 손실 기준으로 조기 종료하며 학습합니다. 스케일러와 설정도 체크포인트에 함께 저장합니다."""
    model = LSTMForecaster(len(data.names), args.hidden, args.layers, args.horizon, dropout=0.2).to(run.device)
    print(f"  파라미터 수: {count_parameters(model):,}")
    (x_tr, y_tr, _), (x_va, y_va, _) = data.splits["train"], data.splits["val"]
    train = TensorBatches(x_tr, y_tr, args.batch_size, shuffle=True, seed=args.seed)
    val = TensorBatches(x_va, y_va, 512)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-5)
    config = {"scaler": data.scaler.state_dict(),  # 텐서·기본 자료형만 (weights_only 로딩 가능)
              "config": {"window": args.window, "horizon": args.horizon, "target": target,
                         "features": data.names, "hidden": args.hidden, "layers": args.layers}}
    history = fit(model, train, val, nn.MSELoss(), optimizer, run.device, args.epochs, clip_grad_norm=1.0,
                  select_best="val_loss", minimize=True, patience=args.patience,
                  run=run, resume=args.resume, checkpoint=checkpoint, checkpoint_extra=config,
                  labels={"train_accuracy": None})  # 회귀라 정확도는 없음
    best = history["best_epoch"]
    print(f"  → {best} 에폭의 가중치(검증 손실 {history['val_loss'][best - 1]:.4f})로 되돌립니다.")
    return model, history


@torch.no_grad()
def predict(model, x: torch.Tensor, device) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + 1024].to(device)).float().cpu() for i in range(0, len(x), 1024)])


def to_price_paths(pred_scaled: torch.Tensor, last_close: np.ndarray, scaler: Scaler, target: str) -> np.ndarray:
    """표준화된 예측 (N, horizon) → 원래 단위의 가격 경로. 수익률이면 오늘 종가에 누적 수익률을 곱합니다:
    C_{t+h} = C_t · exp(r_{t+1} + … + r_{t+h})."""
    values = scaler.inverse_target(pred_scaled).double().numpy()
    if target == "return":
        return last_close[:, None] * np.exp(np.cumsum(values, axis=1))
    return values


def plot_learning_curve(history: dict, best_epoch: int, mean_only_val_loss: float, path: Path) -> Path:
    """mean_only_val_loss: 늘 학습 구간의 평균 수익률만 말하는 예측(표준화 공간의 0)의 검증 손실."""
    fig, axes = new_figure(size=(6.5, 4))
    ax = axes[0, 0]
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], "-o", ms=3, label="학습 손실")
    ax.plot(epochs, history["val_loss"], "--s", ms=3, label="검증 손실")
    ax.axhline(mean_only_val_loss, color="tab:green", ls="-.", lw=1, label="검증: 늘 평균만 예측할 때")
    ax.axvline(best_epoch, color="gray", ls=":", label=f"선택한 에폭 ({best_epoch})")
    ax.set(title="학습 곡선 (표준화된 값의 MSE)", xlabel="에폭", ylabel="손실")
    style_axes(ax, date_axis=False)
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("5. nn.LSTM 예측 모델 학습 (검증 손실로 조기 종료)")
    # 작은 LSTM은 시점마다 행렬 곱이 아주 작아서 CPU 스레드를 여럿 쓰면 계산보다 스레드끼리 기다리는 비용이 큽니다
    # (다른 프로그램이 CPU를 함께 쓰면 몇십 배까지 느려짐). 그래서 학습·평가를 스레드 1개로 합니다.
    with cpu_threads(1):
        model, history = train_model(data, args, run, args.target, run.checkpoint_path)
    mean_only = float((data.splits["val"][1] ** 2).mean())
    print(f"  참고: 늘 학습 구간의 평균만 예측하면 검증 손실 {mean_only:.4f}. LSTM이 이보다 크게 낮지 않다면\n"
          "  과거 수익률에서 배울 만한 규칙이 거의 없다는 뜻입니다.")
    plot_learning_curve(history, history["best_epoch"], mean_only, run.path("03_learning_curve.png"))

# %% [markdown]
# ## 6. 비교 실험: 수익률 대신 종가를 직접 예측하면?
# 흔한 실수를 같은 설정으로 재현합니다. 종가를 (학습 구간 기준으로 표준화해) 직접 예측하면, 테스트 구간의 가격이
# 학습 때 본 범위 밖에 있을 때 예측이 학습 때의 가격 범위 근처에 머뭅니다. 결과는 7절의 표에 한 줄로 들어갑니다.

# %%
def price_target_forecast(df: pd.DataFrame, args, run) -> np.ndarray:
    """비교 실험: 같은 설정으로 종가 자체를 (학습 구간 기준으로 표준화해) 예측 → 테스트 구간의 1일 뒤 가격."""
    data = prepare_data(df, args.window, args.horizon, args.test_start, "price", args.extra_features)
    model, _ = train_model(data, args, run, "price", run.path("checkpoint_price_target.pt"))
    x_test, _, origin = data.splits["test"]
    return to_price_paths(predict(model, x_test, run.device), data.close[origin.numpy()], data.scaler, "price")[:, 0]


# %%
if __name__ == "__main__":
    section("6. 비교 실험: 수익률 대신 종가를 직접 예측하면? (흔한 실수, 같은 설정)")
    extra_rows = {}
    if args.target == "return":
        with cpu_threads(1):
            extra_rows[PRICE_TARGET_ROW] = price_target_forecast(df, args, run)
        print(f"  테스트 구간 1일 뒤 종가 예측 {len(extra_rows[PRICE_TARGET_ROW]):,}개를 7절의 표에서 비교합니다.")
    else:
        print("  --target price 로 실행했으므로 5절의 모델이 이미 종가를 직접 예측합니다 (비교 실험 생략).")

# %% [markdown]
# ## 7. 테스트 구간 평가: LSTM vs 기준선
# 모든 모델을 **같은 테스트 날짜, 같은 가격 단위**로 비교합니다. 예측 $\hat y$, 실제 $y$ 일 때
#
# $$\text{RMSE} = \sqrt{\tfrac1n \textstyle\sum (\hat y - y)^2}, \quad \text{MAE} = \tfrac1n \textstyle\sum |\hat y - y|,
# \quad \text{MAPE} = \tfrac1n \textstyle\sum \tfrac{|\hat y - y|}{y}$$
#
# 방향 정확도는 '오른다/안 오른다'를 맞힌 비율입니다. 이것은 반드시 '매일 오른다고 말하기'(= 상승일 비율)와
# 비교해야 합니다. 기준선: naive(내일 = 오늘), 최근 5일 이동평균, 윈도우 전체를 입력으로 한 선형 회귀(최소제곱).

# %%
def fit_linear_baseline(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """선형 회귀: 윈도우를 한 줄로 펴서 최소제곱으로 가중치를 구합니다 (학습 구간만 사용)."""
    design = torch.cat([x.flatten(1), torch.ones(len(x), 1)], dim=1).double()
    return torch.linalg.lstsq(design, y.double()).solution


def apply_linear_baseline(weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (torch.cat([x.flatten(1), torch.ones(len(x), 1)], dim=1).double() @ weights).float()


def forecast_metrics(predicted: np.ndarray, actual: np.ndarray, today: np.ndarray, direction: bool = True) -> dict:
    """RMSE·MAE(가격 단위), MAPE(비율 0~1), 방향 정확도('오른다/안 오른다'를 맞힌 비율)."""
    error = predicted - actual
    result = {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
              "mape": float(np.mean(np.abs(error) / actual))}
    result["direction_accuracy"] = float(np.mean((predicted > today) == (actual > today))) if direction else None
    return result


def moving_average_forecast(close: np.ndarray, origin: np.ndarray, days: int = MA_DAYS) -> np.ndarray:
    """이동평균 기준선: 최근 days일 종가의 평균을 내일 값으로."""
    return np.stack([close[max(o - days + 1, 0):o + 1].mean() for o in origin])


def evaluate_all(model, linear_weights, data: Prepared, args, device, extra_rows: dict) -> dict:
    """extra_rows: 같은 테스트 날짜의 1일 뒤 예측을 더 비교할 때 {"이름": 가격 배열}."""
    x, _, origin = data.splits["test"]
    origin = origin.numpy()
    today = data.close[origin]
    actual = data.close[origin[:, None] + np.arange(1, args.horizon + 1)]      # (N, horizon)
    lstm = to_price_paths(predict(model, x, device), today, data.scaler, args.target)
    linear = to_price_paths(apply_linear_baseline(linear_weights, x), today, data.scaler, args.target)
    naive = np.repeat(today[:, None], args.horizon, axis=1)
    one_step = {"LSTM": lstm[:, 0], NAIVE_ROW: naive[:, 0],
                f"{MA_DAYS}일 이동평균": moving_average_forecast(data.close, origin), "선형 회귀": linear[:, 0],
                **extra_rows}
    table = {name: forecast_metrics(pred, actual[:, 0], today, direction=name != NAIVE_ROW)
             for name, pred in one_step.items()}
    multi = {name: forecast_metrics(pred[:, -1], actual[:, -1], today, direction=name != NAIVE_ROW)
             for name, pred in {"LSTM": lstm, NAIVE_ROW: naive, "선형 회귀": linear}.items()}
    return {"table": table, "multi": multi, "lstm": lstm, "naive": naive, "actual": actual, "today": today,
            "origin": origin, "up_share": float(np.mean(actual[:, 0] > today))}


def pad(text: str, width: int, right: bool = False) -> str:
    """한글은 화면에서 두 칸을 차지하므로 글자 수가 아니라 표시 폭으로 맞춥니다."""
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    space = " " * max(width - shown, 0)
    return space + text if right else text + space


def print_table(table: dict, up_share: float, title: str, unit: str) -> None:
    print(f"\n{title}")
    header = [pad("모델", 22), pad(f"RMSE({unit})", 14, True), pad(f"MAE({unit})", 14, True), pad("MAPE", 9, True),
              pad("방향 정확도", 13, True)]
    print("  " + "".join(header))
    for name, m in table.items():
        direction = "-" if m["direction_accuracy"] is None else f"{m['direction_accuracy']:.3f}"
        print(f"  {pad(name, 22)}{m['rmse']:>14,.1f}{m['mae']:>14,.1f}{m['mape']:>9.2%}{direction:>13}")
    print(f"  {pad('항상 상승', 22)}{'':>37}{up_share:>13.3f}   (= 상승일 비율)")


def explain_result(table: dict, up_share: float) -> None:
    """누가 이겼는지, 그게 무슨 뜻인지 그대로 말합니다."""
    lstm, naive = table["LSTM"], table[NAIVE_ROW]
    ratio = lstm["rmse"] / naive["rmse"]
    winner = min(table, key=lambda n: table[n]["rmse"])
    print(f"\n[해석] RMSE가 가장 낮은 모델: {winner}. LSTM / naive RMSE = {ratio:.3f}"
          f" ({'naive와 거의 같음' if abs(ratio - 1) < 0.02 else 'naive보다 좋음' if ratio < 1 else 'naive보다 나쁨'}).")
    print("  주가는 랜덤 워크에 가까워서 '내일 = 오늘'이 가장 강력한 단순 예측입니다. LSTM의 가격 그래프가 실제와\n"
          "  거의 겹쳐 보이는 것은 모델이 똑똑해서가 아니라 오늘 가격 근처를 말하기 때문입니다 (확대 그림 참고).\n"
          "  가격 대신 수익률로 보면 예측은 0 근처의 작은 값이고, 실제 수익률의 대부분은 설명하지 못합니다.")
    verdict = "높습니다" if lstm["direction_accuracy"] > up_share else "높지 않습니다"
    print(f"  방향 정확도 {lstm['direction_accuracy']:.3f} 는 '매일 오른다고 말하기'({up_share:.3f})보다 {verdict}."
          f" '매일 안 오른다고 말하기'는 {1 - up_share:.3f}. 0.5 근처의 차이는 우연으로도 쉽게 생깁니다.")
    if PRICE_TARGET_ROW in table:
        price = table[PRICE_TARGET_ROW]
        print(f"  종가를 직접 예측한 LSTM의 RMSE는 naive의 {price['rmse'] / naive['rmse']:.1f}배입니다. 학습 구간에서 본 적 없는\n"
              "  가격대를 맞혀야 해서 예측이 학습 때의 가격 범위 근처에 머뭅니다. 그래서 수익률을 예측합니다.")
    print(f"  {DISCLAIMER}")


def residual_bins(naive_residual: np.ndarray, other: np.ndarray, n_bins: int = 40) -> np.ndarray:
    """가격은 호가 단위(삼성전자 100원)로 움직여 naive 잔차가 그 배수뿐입니다. 구간 폭을 호가 단위의
    정수배로 맞춰야 막대가 들쭉날쭉(앨리어싱)하지 않습니다."""
    lo, hi = np.percentile(np.concatenate([naive_residual, other]), [0.5, 99.5])
    ticks = np.diff(np.unique(np.round(naive_residual, 6)))
    tick = ticks.min() if len(ticks) else (hi - lo) / n_bins
    width = tick * max(1.0, np.ceil((hi - lo) / n_bins / tick))
    return (np.arange(np.floor(lo / width), np.ceil(hi / width) + 1) - 0.5) * width


def plot_test_forecast(dates, actual, lstm, naive, today, price_target, unit: str, path: Path, zoom: int = 60) -> Path:
    """테스트 구간: 전체 가격, 확대한 마지막 zoom일, 수익률 비교, 잔차 히스토그램."""
    fig, axes = new_figure(ncols=2, nrows=2, size=(6.5, 3.6))
    tail = slice(-zoom, None)
    axes[0, 0].plot(dates, actual, color="black", lw=0.9, label="실제")
    axes[0, 0].plot(dates, lstm, color="tab:red", lw=0.7, alpha=0.8, label="LSTM")
    if price_target is not None:
        axes[0, 0].plot(dates, price_target, color="tab:purple", lw=0.9, label="LSTM (종가를 직접 예측)")
    axes[0, 0].set(title="테스트 구간: 실제 vs LSTM (가격은 거의 겹쳐 보입니다)", ylabel="종가")
    axes[0, 1].plot(dates[tail], actual[tail], "-o", ms=2.5, color="black", lw=0.9, label="실제")
    axes[0, 1].plot(dates[tail], lstm[tail], "-s", ms=2.5, color="tab:red", lw=0.8, label="LSTM")
    axes[0, 1].plot(dates[tail], naive[tail], ":", color="tab:green", lw=1.2, label=NAIVE_ROW)
    axes[0, 1].set(title=f"마지막 {zoom}거래일 확대: 예측이 하루 늦게 따라갑니다", ylabel="종가")
    axes[1, 0].plot(dates[tail], np.log(actual[tail] / today[tail]), "-o", ms=2.5, color="black", lw=0.9, label="실제")
    axes[1, 0].plot(dates[tail], np.log(lstm[tail] / today[tail]), "-s", ms=2.5, color="tab:red", lw=0.8, label="LSTM")
    axes[1, 0].axhline(0, color="gray", lw=0.8)
    axes[1, 0].set(title="같은 기간의 로그 수익률: 진짜 어려운 문제", ylabel="로그 수익률")
    bins = residual_bins(naive - actual, lstm - actual)
    axes[1, 1].hist(lstm - actual, bins=bins, alpha=0.6, color="tab:red", label="LSTM")
    axes[1, 1].hist(naive - actual, bins=bins, alpha=0.5, color="tab:green", label="naive")
    axes[1, 1].set(title="잔차(예측 - 실제) 분포", xlabel=unit, ylabel="날 수")
    style_axes([axes[0, 0], axes[0, 1], axes[1, 0]])
    style_axes(axes[1, 1], date_axis=False)
    fig.tight_layout()
    fig.text(0.5, -0.01, DISCLAIMER, ha="center", fontsize=9, color="dimgray")
    return save_figure(fig, path)


def plot_baselines(table: dict, up_share: float, unit: str, path: Path) -> Path:
    """왼쪽: RMSE (낮을수록 좋음), 오른쪽: 방향 정확도와 '항상 상승' 기준선."""
    fig, axes = new_figure(ncols=2, size=(5.5, 4))
    names = list(table)
    rmse = [table[n]["rmse"] for n in names]
    bars = axes[0, 0].bar(names, rmse, color=["tab:red" if n == "LSTM" else "tab:gray" for n in names])
    axes[0, 0].bar_label(bars, fmt="{:,.0f}", fontsize=8)
    axes[0, 0].set(title=f"테스트 RMSE ({unit}, 낮을수록 좋음)", ylabel="RMSE")
    with_direction = [n for n in names if table[n]["direction_accuracy"] is not None]
    acc = [table[n]["direction_accuracy"] for n in with_direction]
    bars = axes[0, 1].bar(with_direction, acc, color=["tab:red" if n == "LSTM" else "tab:gray" for n in with_direction])
    axes[0, 1].bar_label(bars, fmt="{:.3f}", fontsize=8)
    axes[0, 1].axhline(up_share, color="tab:blue", ls="--", label=f"'항상 상승' = 상승일 비율 {up_share:.3f}")
    axes[0, 1].axhline(1 - up_share, color="tab:green", ls=":", label=f"'항상 안 오름' = {1 - up_share:.3f}")
    axes[0, 1].set(title="방향 정확도 (오름/안 오름)", ylabel="정확도", ylim=(0, 1))
    axes[0, 1].legend(fontsize=8, loc="lower right")
    for ax, labels in zip(axes.flat, [names, with_direction]):
        ax.grid(axis="y", alpha=0.3)
        ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right", fontsize=8)
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section(f"7. 테스트 구간 평가: LSTM vs 기준선 (같은 날짜, 단위: {stock.unit})")
    with cpu_threads(1):  # 학습과 같은 스레드 수로 (최소제곱 해는 스레드 수에 따라 마지막 자리가 달라질 수 있음)
        linear = fit_linear_baseline(*data.splits["train"][:2])
        result = evaluate_all(model, linear, data, args, run.device, extra_rows)
    print_table(result["table"], result["up_share"], "다음 날(1일 뒤) 종가 예측", stock.unit)
    print_table(result["multi"], float(np.mean(result["actual"][:, -1] > result["today"])),
                f"{args.horizon}일 뒤 종가 예측", stock.unit)
    explain_result(result["table"], result["up_share"])
    test_dates = data.dates.to_numpy()[result["origin"] + 1]
    plot_test_forecast(test_dates, result["actual"][:, 0], result["lstm"][:, 0], result["naive"][:, 0],
                       result["today"], extra_rows.get(PRICE_TARGET_ROW), stock.unit, run.path("04_test_forecast.png"))
    plot_baselines(result["table"], result["up_share"], stock.unit, run.path("05_baselines.png"))

# %% [markdown]
# ## 8. 여러 날 앞 예측과 불확실성
# 모델은 $H$일의 수익률을 한 번에 냅니다. $h$일 뒤 가격은 오늘 종가에 누적 수익률을 곱한 값입니다.
# 95 % 범위는 검증 구간에서 본 $h$일 누적 로그 수익률 오차의 표준편차 $\sigma_h$ 로 $\hat C \cdot e^{\pm 1.96\,\sigma_h}$.
# 멀리 볼수록 $\sigma_h$ 가 커져 범위(부채꼴)가 넓어집니다.

# %%
def validation_sigma(model, data: Prepared, args, device) -> np.ndarray:
    """검증 구간에서 본 h일 누적 로그 수익률 오차의 표준편차 → 예측 범위(부채꼴)의 폭."""
    x, _, origin = data.splits["val"]
    today = data.close[origin.numpy()]
    predicted = to_price_paths(predict(model, x, device), today, data.scaler, args.target)
    actual = data.close[origin.numpy()[:, None] + np.arange(1, args.horizon + 1)]
    return np.log(actual / predicted).std(axis=0)


def print_next_forecast(model, data: Prepared, args, device, sigma: np.ndarray) -> None:
    """데이터의 마지막 날 이후 horizon일 예측 (범위와 함께)."""
    scaled = data.scaler.transform(torch.tensor(data.raw[-args.window:], dtype=torch.float32))
    today = data.close[-1:]
    path = to_price_paths(predict(model, scaled.unsqueeze(0), device), today, data.scaler, args.target)[0]
    print(f"\n마지막 날({data.dates.iloc[-1].date()}, 종가 {today[0]:,.0f}) 이후 {args.horizon}거래일 예측:")
    for h, (p, s) in enumerate(zip(path, sigma), start=1):
        print(f"  {h}일 뒤: {p:,.0f}  (95 % 범위 {p * math.exp(-1.96 * s):,.0f} ~ {p * math.exp(1.96 * s):,.0f})")
    print(f"  {DISCLAIMER}")


def plot_fan(dates, close, origins, paths, sigma, horizon: int, path: Path) -> Path:
    """여러 시점에서 horizon일 앞까지의 예측 경로와 95 % 범위(검증 잔차로 추정)."""
    fig, axes = new_figure(size=(10, 4))
    ax = axes[0, 0]
    lo = max(origins[0] - 10, 0)
    hi = min(origins[-1] + horizon + 1, len(close))
    ax.plot(dates[lo:hi], close[lo:hi], color="black", lw=1, label="실제 종가")
    for k, (o, p) in enumerate(zip(origins, paths)):
        days = dates[o:o + horizon + 1]
        center = np.concatenate([[close[o]], p])
        band = np.concatenate([[0.0], 1.96 * sigma])
        ax.fill_between(days, center * np.exp(-band), center * np.exp(band), color="tab:red", alpha=0.15,
                        label="95 % 범위" if k == 0 else None)
        ax.plot(days, center, "-o", ms=2.5, color="tab:red", lw=1, label=f"LSTM {horizon}일 예측" if k == 0 else None)
    ax.set(title=f"여러 날짜에서 본 {horizon}일 앞 예측: 멀리 볼수록 불확실성이 커집니다", ylabel="종가")
    style_axes(ax)
    fig.text(0.5, -0.02, DISCLAIMER, ha="center", fontsize=9, color="dimgray")
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("8. 여러 날 앞 예측과 불확실성")
    with cpu_threads(1):
        sigma = validation_sigma(model, data, args, run.device)
        print_next_forecast(model, data, args, run.device, sigma)
    picks = np.linspace(max(len(result["origin"]) - 120, 0), len(result["origin"]) - 1, 6).astype(int)
    plot_fan(data.dates.to_numpy(), data.close, result["origin"][picks], result["lstm"][picks], sigma,
             args.horizon, run.path("06_multistep_fan.png"))

# %% [markdown]
# ## 9. 결과 기록
# `metrics.json` 에는 LSTM의 값은 접두어 없이, 기준선은 `naive_` / `moving_average_` / `linear_` / `price_target_`
# 접두어로, $H$일 뒤 예측은 `h5_` 처럼 남깁니다. 측정값은 `docs/RESULTS.md` 에 모여 있습니다.

# %%
def collect_metrics(result: dict, history: dict, data: Prepared, args) -> dict:
    """metrics.json 의 metrics: LSTM의 값은 접두어 없이, 기준선은 naive_/moving_average_/linear_ 접두어로."""
    table, multi = result["table"], result["multi"]
    naive = table[NAIVE_ROW]
    metrics = {**table["LSTM"], "naive_rmse": naive["rmse"], "naive_mae": naive["mae"], "naive_mape": naive["mape"],
               "rmse_ratio_to_naive": table["LSTM"]["rmse"] / naive["rmse"], "up_day_share": result["up_share"]}
    prefixes = {"moving_average": f"{MA_DAYS}일 이동평균", "linear": "선형 회귀", "price_target": PRICE_TARGET_ROW}
    for key, label in prefixes.items():
        if label in table:
            metrics.update({f"{key}_{m}": v for m, v in table[label].items()})
    h = args.horizon
    metrics.update({f"h{h}_rmse": multi["LSTM"]["rmse"], f"h{h}_naive_rmse": multi[NAIVE_ROW]["rmse"],
                    f"h{h}_linear_rmse": multi["선형 회귀"]["rmse"], "best_epoch": history["best_epoch"],
                    "epochs_run": len(history["train_loss"]), "window": args.window, "horizon": h,
                    "target": args.target, "test_start": str(data.dates.iloc[data.test_start].date()),
                    "test_end": str(data.dates.iloc[-1].date()), "n_val": len(data.splits["val"][1])})
    return metrics


# %%
if __name__ == "__main__":
    section("9. 결과 기록")
    metrics = collect_metrics(result, history, data, args)
    run.write_metrics(dataset=stock.name, data_source=stock.source, epochs=metrics["epochs_run"],
                      n_train=len(data.splits["train"][1]), n_test=len(data.splits["test"][1]), metrics=metrics)
    print(f"  그림: {run.out}/*.png, 체크포인트: {run.checkpoint_path}")

# %% [markdown]
# ## 해 보세요
# 기본 실행이 30초 안팎이라 옵션을 바꿔 전체를 다시 실행해도 됩니다 (`--out-dir` 을 바꾸면 기본 결과를 덮어쓰지 않습니다).
# `metrics.json` 의 값을 기본 실행과 비교해 보세요. 아래 숫자는 이 과정을 만든 2코어 CPU(AMD EPYC)에서 잰 값입니다
# (`docs/notes/05_lstm_sequence_prediction.md`). 기본 실행: LSTM RMSE 1,005.6원, naive 1,006.0원(비율 0.9996),
# 방향 정확도 0.4656 = 상승일 비율 0.4656.
#
# 1. **종가를 직접 예측하기** (`--target price` 의 흔한 실수): 기본 실행의 6절이 같은 설정으로 이미 함께 학습합니다.
#    7절 표의 'LSTM (종가 직접)' 은 RMSE 17,156원, MAPE 21.1 % 로 수익률 LSTM(1,006원, 1.11 %)의 17배입니다. 그림 `04_test_forecast.png` 에서
#    테스트 구간 내내 학습 때의 가격대에 머무는 보라색 선을 확인하세요.
# 2. **다른 종목·기간**: `--ticker KS11 --test-start 2020-01-01` → 테스트 구간 2020-01-02~2023-01-02(737일)에서
#    RMSE 31.96 대 naive 31.97(비율 0.9997), 방향 정확도 0.5387 대 상승일 비율 0.5373. 다른 지수·기간에서도 naive와 같고 '항상 상승'보다
#    0.1 %p 나을 뿐입니다.
# 3. **입력 특성 더하기**: `--extra-features` → RMSE 1,004.4원(naive 대비 0.9984), 방향 정확도 0.4739 로 '항상 상승'(0.4656)보다
#    0.8 %p 나아지지만, 같은 입력을 쓰는 선형 회귀(0.5308)와 5일 이동평균(0.5130)보다 낮습니다.
#
# **질문**
#
# <details><summary>1. 방향 정확도 0.4656 이 '항상 상승' 기준선(상승일 비율)과 소수 넷째 자리까지 같은 이유는?</summary>
#
# LSTM이 테스트 구간의 (사실상) 모든 날에 '오른다'(양의 수익률)고 예측했다는 뜻입니다. 늘 오른다고 하면 맞힌 날은 실제로 오른 날뿐이라 방향 정확도가
# 상승일 비율과 같아집니다. 예측 수익률이 0 근처의 작은 양수에 모여 있다는 뜻이고, RMSE가 naive 와 거의 같은(비율 0.9996) 것과 같은
# 이야기입니다: 모델은 '내일도 오늘과 거의 같다'를 배웠습니다. 주가가 랜덤 워크에 가까우면 이것이 손실을 가장 줄이는 답입니다.
# </details>
#
# <details><summary>2. 3절의 <code>Scaler.fit(values[:val_start])</code> 를 <code>Scaler.fit(values)</code> 로 바꾸면 무엇이 새어 들어가나요?</summary>
#
# 스케일러의 평균·표준편차에 검증·테스트 구간(미래)의 값이 섞입니다. 학습하는 모델이 미래 구간의 변동성 크기를 간접적으로 알게 되고,
# 실제로 쓸 때는 미래를 모르므로 테스트 점수가 실제보다 낙관적일 수 있습니다 (데이터 누수). 스케일링 기준은 학습 구간에서만 구하고,
# 같은 기준을 검증·테스트에 그대로 씁니다.
# </details>
