"""주가 CSV 찾기·내려받기·읽기 (레슨 05가 씁니다).

찾는 순서: `--csv` 로 준 파일 → 데이터 루트의 `stocks/<종목>.csv` (Yahoo Finance 형식:
Date, Open, High, Low, Close, Adj Close, Volume) → yfinance 로 내려받기(설치돼 있을 때만)
→ 눈에 띄는 안내와 함께 시드를 고정한 기하 브라운 운동(GBM) 가짜 주가.
여기서는 글자를 숫자·날짜로 바꾸고 잘못된 파일을 한국어로 알리기까지만 합니다.
빈 행·휴장일·중복 날짜를 정리하는 일은 레슨이 가르치는 내용이라 장(05)에 있습니다.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.data_utils import locate_dataset, resolve_data_dir
from utils.model_utils import CourseError

TICKERS = {"005930.KS": "삼성전자", "KS11": "코스피 지수", "GSPC": "S&P 500 지수"}
UNITS = {"005930.KS": "원", "KS11": "포인트", "GSPC": "포인트"}  # --csv 는 '가격', 대체 데이터는 '원'
DEFAULT_TICKER = "005930.KS"
REQUIRED_COLUMNS = ["Date", "Close"]
NUMERIC_COLUMNS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
NULL_MARKERS = {"", "null", "NULL", "NaN", "nan", "NA", "N/A", "-"}
FALLBACK_NAME = "기하 브라운 운동 대체 데이터 (가짜 주가)"


@dataclass
class StockData:
    frame: pd.DataFrame   # Date(날짜) + 쓰는 숫자 열. 빈 값 표시('null' 등)는 NaN — 정리는 레슨이 합니다
    name: str             # 그림·metrics.json 에 쓸 데이터 이름
    source: str           # "local" | "downloaded" | "fallback"
    unit: str             # 가격 단위 (원·포인트·가격)


def csv_path(root: Path, ticker: str) -> Path:
    return Path(root) / "stocks" / f"{ticker}.csv"


def iso_date(text: str) -> str:
    """--test-start 의 형식 검사 (명령행 옵션 타입)."""
    try:
        return str(pd.Timestamp(text).date())
    except ValueError:
        raise argparse.ArgumentTypeError(f"YYYY-MM-DD 형식의 날짜가 필요합니다 (받은 값: {text!r})") from None


def add_options(parser) -> None:
    """데이터를 고르는 옵션: --ticker, --csv, --test-start."""
    parser.add_argument("--ticker", choices=list(TICKERS), default=DEFAULT_TICKER,
                        help="DL_DATA_DIR/stocks/ 의 종목 (기본 005930.KS = 삼성전자)")
    parser.add_argument("--csv", default=None, help="같은 열(Date, Close, ...)을 가진 자기 CSV 파일")
    parser.add_argument("--test-start", type=iso_date, default=None,
                        help="테스트 구간의 시작 날짜 YYYY-MM-DD (기본: 마지막 15 %% 거래일)")


def download(root: Path) -> bool:
    """강사용: yfinance 가 설치돼 있고 인터넷이 되면 세 종목의 CSV를 받습니다. 아니면 받는 법을 안내합니다."""
    root = Path(root)
    missing = [t for t in TICKERS if not csv_path(root, t).is_file()]
    if not missing:
        return True
    try:
        import yfinance  # 선택 사항: requirements.txt 에는 없습니다
    except ImportError:
        print("  [안내] 주가 CSV를 자동으로 받으려면 'pip install yfinance' 가 필요합니다. 또는 직접 받으세요:\n"
              "         Yahoo Finance → 종목 검색(005930.KS, ^KS11, ^GSPC) → Historical Data → Download\n"
              f"         받은 파일을 {root / 'stocks'}/ 에 005930.KS.csv, KS11.csv, GSPC.csv 로 저장합니다.")
        return False
    for ticker in missing:
        symbol = ticker if ticker.endswith(".KS") else f"^{ticker}"
        try:
            table = yfinance.download(symbol, start="2000-01-01", end="2023-11-02", auto_adjust=False,
                                      progress=False, timeout=15)
            if table.empty:
                raise OSError("빈 응답")
            table.columns = [c[0] if isinstance(c, tuple) else c for c in table.columns]
            csv_path(root, ticker).parent.mkdir(parents=True, exist_ok=True)
            table[NUMERIC_COLUMNS].to_csv(csv_path(root, ticker), index_label="Date")
        except Exception as err:  # 네트워크·API 변화 등 무엇이든: 안내만 하고 계속
            print(f"  [실패] {symbol} 내려받기: {type(err).__name__}: {err}")
    return all(csv_path(root, t).is_file() for t in TICKERS)


def geometric_brownian_motion(n_days: int = 1500, seed: int = 0, start_price: float = 50_000.0,
                              drift: float = 0.0003, volatility: float = 0.018) -> pd.DataFrame:
    """대체 데이터: log S_t = log S_{t-1} + (drift - σ²/2) + σ·ε. 미래가 과거와 무관한 '순수한 랜덤 워크'입니다."""
    rng = np.random.default_rng(seed)
    log_returns = drift - volatility ** 2 / 2 + volatility * rng.standard_normal(n_days)
    close = start_price * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[start_price], close[:-1]]) * np.exp(0.003 * rng.standard_normal(n_days))
    spread = np.abs(0.01 * rng.standard_normal((2, n_days)))
    dates = pd.bdate_range("2018-01-02", periods=n_days).strftime("%Y-%m-%d")
    table = {"Date": dates, "Open": open_, "High": np.maximum(open_, close) * (1 + spread[0]),
             "Low": np.minimum(open_, close) * (1 - spread[1]), "Close": close, "Adj Close": close,
             "Volume": rng.integers(5_000_000, 20_000_000, n_days)}
    # CSV에서 읽은 것처럼 문자열 표로 돌려줍니다 (같은 변환·정리 단계를 거치도록)
    return pd.DataFrame({k: np.round(v) if k != "Date" else v for k, v in table.items()}).astype(str)


def read_price_csv(path: Path) -> pd.DataFrame:
    """CSV를 모두 '문자열'로 읽습니다. 숫자 변환은 parse_prices 에서 해야 어느 행이 문제인지 알려 줄 수 있습니다."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise CourseError(f"CSV 파일이 없습니다: {path}") from None
    except pd.errors.EmptyDataError:
        raise CourseError(f"CSV 파일이 비어 있습니다: {path}\n"
                          "       첫 줄에 Date,Open,High,Low,Close,Adj Close,Volume 머리글이 필요합니다.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, IsADirectoryError) as err:
        raise CourseError(f"CSV 형식으로 읽을 수 없습니다: {path} ({type(err).__name__})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise CourseError(f"CSV에 필요한 열이 없습니다: {', '.join(missing)} (파일: {path})\n"
                          f"       있는 열: {', '.join(raw.columns)}\n"
                          "       Yahoo Finance 형식(Date,Open,High,Low,Close,Adj Close,Volume)이어야 합니다.")
    if raw.empty:
        raise CourseError(f"CSV에 머리글만 있고 데이터 행이 없습니다: {path}")
    return raw


def _to_numbers(raw: pd.DataFrame, column: str) -> pd.Series:
    """숫자 열 변환. 'null' 같은 빈 값 표시는 NaN으로, 그 밖의 글자는 몇 번째 줄인지 알려 주는 오류로."""
    text = raw[column].astype(str).str.strip().str.replace(",", "", regex=False)
    is_null = text.isin(NULL_MARKERS)
    values = pd.to_numeric(text.where(~is_null), errors="coerce")
    bad = values.isna() & ~is_null
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CourseError(f"'{column}' 열에 숫자가 아닌 값이 있습니다: {i + 2}번째 줄 '{raw[column].iloc[i]}'"
                          f" (이런 줄이 모두 {int(bad.sum())}개)")
    return values


def parse_prices(raw: pd.DataFrame, needed: list[str]) -> pd.DataFrame:
    """문자열 표 → Date(날짜) + needed 열 (+ 있으면 Volume). 빈 값 표시는 NaN으로 남겨 둡니다.

    needed: 모델이 쓰는 열 (Close, 그리고 --extra-features 면 High/Low/Volume). 쓰지 않는 열(Open 등)은 검사하지 않습니다.
    """
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise CourseError(f"--extra-features 에 필요한 열이 CSV에 없습니다: {', '.join(missing)}")
    df = pd.DataFrame({"Date": pd.to_datetime(raw["Date"].astype(str).str.strip(), errors="coerce")})
    if df["Date"].isna().any():
        i = int(np.flatnonzero(df["Date"].isna().to_numpy())[0])
        raise CourseError(f"'Date' 열을 날짜로 읽을 수 없습니다: {i + 2}번째 줄 '{raw['Date'].iloc[i]}'"
                          " (YYYY-MM-DD 형식이어야 합니다)")
    for column in dict.fromkeys([*needed, "Volume"]):
        if column in raw.columns:
            df[column] = _to_numbers(raw, column)
    return df


def load(args, needed: list[str] = ("Close",)) -> StockData:
    """--csv 가 있으면 그 파일만, 아니면 데이터 루트의 종목 CSV → 내려받기 → GBM 대체 데이터."""
    if args.csv:
        path, source, name = Path(args.csv), "local", Path(args.csv).stem
        if not path.is_file():
            raise CourseError(f"--csv 로 준 파일이 없습니다: {path}")
    else:
        root = resolve_data_dir(args.data_dir)
        path, name = csv_path(root, args.ticker), f"{TICKERS[args.ticker]} ({args.ticker})"
        source = locate_dataset(args, f"주가 {args.ticker}", [str(path)], present=path.is_file,
                                download=lambda: download(root))
    if source == "fallback":
        raw, name, unit = geometric_brownian_motion(seed=args.seed), FALLBACK_NAME, "원"
    else:
        raw, unit = read_price_csv(path), UNITS.get(path.stem if args.csv else args.ticker, "가격")
    return StockData(parse_prices(raw, list(needed)), name, source, unit)
