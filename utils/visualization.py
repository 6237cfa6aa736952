"""레슨들이 함께 쓰는 그림: 한글 글꼴 설정, 학습 곡선, 혼동 행렬, 이미지 격자, 막대그래프, 저장.

화면이 없는 서버에서도 돌도록 Agg 백엔드(파일로만 저장)를 씁니다.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from utils.chapter import in_notebook  # noqa: E402
from utils.distributed import is_main as is_main_process  # noqa: E402

KOREAN_FONT = "NanumGothic"


def _bundled_font_dir() -> Path | None:
    """koreanize-matplotlib 패키지가 담아 온 나눔고딕 폴더.

    패키지를 import 하면 옛 distutils를 불러 경고(또는 Python 3.12+에서 오류)가 나므로
    글꼴 파일만 찾아 직접 등록합니다.
    """
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    fonts = Path(list(spec.submodule_search_locations)[0]) / "fonts"
    return fonts if fonts.is_dir() else None


def setup_korean_font() -> str:
    """한글이 네모(□)로 깨지지 않도록 나눔고딕을 등록하고 기본 글꼴로 지정합니다."""
    if KOREAN_FONT not in {f.name for f in font_manager.fontManager.ttflist}:
        font_dir = _bundled_font_dir()
        if font_dir is None:
            raise RuntimeError("한글 글꼴을 찾을 수 없습니다: pip install koreanize-matplotlib")
        for path in sorted(font_dir.glob("*.ttf")):
            font_manager.fontManager.addfont(str(path))
    plt.rcParams["font.family"] = KOREAN_FONT
    plt.rcParams["axes.unicode_minus"] = False  # 나눔고딕에는 유니코드 마이너스(−) 글리프가 없음
    return KOREAN_FONT


def save_figure(fig, path: Path) -> Path:
    """그림을 PNG로 저장하고 닫습니다 (메모리 누수 방지). 노트북에서는 저장한 그림을 셀 아래에도 보여 줍니다."""
    setup_korean_font()
    path = Path(path)
    if not is_main_process():  # torchrun: 그림은 랭크 0만 저장합니다
        plt.close(fig)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    if in_notebook():  # Jupyter·Colab 커널에서는 IPython 이 늘 있습니다
        from IPython.display import Image, display
        display(Image(filename=str(path)))
    return path


def new_figure(ncols: int = 1, nrows: int = 1, size=(6, 4)):
    """한글 글꼴이 적용된 새 그림. size는 칸 하나의 (가로, 세로) 인치."""
    setup_korean_font()
    return plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)


def plot_learning_curves(histories: dict, path: Path, title: str = "학습 곡선") -> Path:
    """histories: {"이름": fit()의 history}. 손실과 정확도를 에폭별로 나란히 그립니다."""
    fig, axes = new_figure(ncols=2)
    for label, h in histories.items():
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        for ax, key in zip(axes[0], ["loss", "accuracy"]):
            line, = ax.plot(epochs, h[f"train_{key}"], "-o", ms=3, label=f"{label} 학습")
            if not np.all(np.isnan(h[f"val_{key}"])):
                ax.plot(epochs, h[f"val_{key}"], "--s", ms=3, color=line.get_color(), label=f"{label} 검증")
    for ax, name in zip(axes[0], ["손실", "정확도"]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # 에폭은 정수
        ax.set_xlabel("에폭")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, n_classes: int) -> np.ndarray:
    """행 = 실제 클래스, 열 = 예측 클래스인 개수 행렬."""
    idx = targets.long() * n_classes + predictions.long()
    return torch.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes).numpy()


def plot_confusion_matrix(cm: np.ndarray, class_names: list[str], path: Path, title: str = "혼동 행렬") -> Path:
    import seaborn as sns

    fig, axes = new_figure(size=(max(5, 0.6 * len(class_names) + 2), max(4, 0.5 * len(class_names) + 1.5)))
    ax = axes[0, 0]
    sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax,
                xticklabels=class_names, yticklabels=class_names, annot_kws={"fontsize": 7})
    ax.set_xlabel("예측 클래스")
    ax.set_ylabel("실제 클래스")
    ax.set_title(title)
    return save_figure(fig, path)


def plot_image_grid(images: torch.Tensor, titles: list[str], path: Path, title: str = "", ncols: int = 8) -> Path:
    """(N,C,H,W) 이미지(uint8 또는 0~1 실수)를 제목과 함께 격자로 그립니다."""
    n = len(images)
    nrows = max(1, (n + ncols - 1) // ncols)
    fig, axes = new_figure(ncols=min(ncols, max(n, 1)), nrows=nrows, size=(1.5, 1.7))
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, text in zip(axes.flat, images, titles):
        img = img.float() / 255 if img.dtype == torch.uint8 else img.float()
        if img.shape[0] == 1:
            ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(text, fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_prediction_inputs(paths: list[Path], inputs: torch.Tensor, titles: list[str], path: Path,
                           title: str = "내 이미지와 모델이 실제로 보는 입력", max_images: int = 24) -> Path:
    """--predict 용: 학습자의 원래 이미지(읽은 그대로)와 전처리해 모델에 넣은 흑백 입력을 나란히 그립니다.

    inputs: (N,1,H,W) uint8. 한 줄에 네 쌍씩, 처음 max_images 장까지.
    """
    from PIL import Image

    n = min(len(paths), max_images)
    pairs_per_row = min(4, max(n, 1))
    fig, axes = new_figure(ncols=2 * pairs_per_row, nrows=max(1, -(-n // pairs_per_row)), size=(1.7, 2.0))
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        with Image.open(paths[i]) as img:
            original = np.asarray(img.convert("RGB"))
        left, right = axes.flat[2 * i], axes.flat[2 * i + 1]
        left.imshow(original)
        left.set_title(f"원본 {original.shape[1]}×{original.shape[0]}\n{Path(paths[i]).name[:18]}", fontsize=7)
        right.imshow(inputs[i, 0].numpy(), cmap="gray", vmin=0, vmax=255)
        right.set_title(f"입력 {inputs.shape[-1]}×{inputs.shape[-2]}\n{titles[i]}", fontsize=7)
    # 큰 제목은 맨 윗줄 칸 제목(두 줄) 위에: 칸의 윗변(그림 높이의 0.88) + 0.42인치
    fig.suptitle(title if n == len(paths) else f"{title} (처음 {n}장)", y=0.88 + 0.42 / fig.get_figheight(),
                 va="bottom")
    return save_figure(fig, path)


def plot_bars(values: dict, path: Path, title: str, ylabel: str, fmt: str = "{:.3f}") -> Path:
    """{"이름": 값} 을 막대그래프로 (모델·설정 비교용)."""
    fig, axes = new_figure(size=(max(5, 1.1 * len(values) + 2), 4))
    ax = axes[0, 0]
    bars = ax.bar(list(values.keys()), list(values.values()), color="tab:blue")
    for bar, v in zip(bars, values.values()):
        ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)
