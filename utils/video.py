"""탐지 결과 그리기와 사진·영상·웹캠 입출력 (레슨 06의 그림과 --image/--video/--camera).

탐지 자체(전처리 → 모델 → 디코딩 → NMS)는 레슨이 넘겨 준 함수가 합니다. 여기에는 가르칠 것이 없는
배관만 있습니다: 박스 그리기(matplotlib 격자·PIL), 한글 글꼴, 파일 읽기, OpenCV 열기·닫기,
창을 띄울 수 있는지 판단, 영상 파일 쓰기. 탐지 결과 형식: {"boxes": (K,4) xyxy 픽셀, "labels", ("scores")}.
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from utils.data_utils import collect_image_paths, read_image
from utils.model_utils import CourseError, positive_int

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def camera_number(text: str) -> str:
    """--camera 값: 0 이상의 정수. 문자열로 돌려줍니다 ('0' 도 참이 되어 start_chapter 의 actions 가 알아봄)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"카메라 번호는 0 이상의 정수여야 합니다 (받은 값: {text!r})")
    return text


def add_stream_options(parser) -> None:
    """--video, --camera, --max-frames (사진용 --image 는 레슨이 붙입니다)."""
    parser.add_argument("--video", metavar="FILE", help="영상 파일 탐지 (박스와 FPS를 그린 영상 저장 또는 창)")
    parser.add_argument("--camera", type=camera_number, metavar="N",
                        help="웹캠 번호 (보통 0). GUI 있는 OpenCV면 창을 띄움")
    parser.add_argument("--max-frames", type=positive_int, default=None, help="영상·웹캠에서 처리할 최대 프레임 수")


def only_one(args, options: tuple[str, ...]) -> None:
    """--image / --video / --camera 처럼 서로 배타적인 옵션이 둘 이상이면 한국어 오류."""
    given = [f"--{name}" for name in options if getattr(args, name, None) is not None]
    if len(given) > 1:
        raise CourseError(f"{' 와 '.join(given)} 는 함께 쓸 수 없습니다. 하나만 고르세요.")


def korean_font_path() -> str:
    """OpenCV의 putText는 한글을 못 그리므로 PIL에 나눔고딕 파일을 넘깁니다."""
    from matplotlib import font_manager

    from utils.visualization import setup_korean_font
    setup_korean_font()
    return font_manager.findfont(font_manager.FontProperties(family="NanumGothic"))


def draw_detections(frame_rgb: np.ndarray, det: dict, class_names: list[str], fps: float | None = None):
    """박스·클래스·점수(와 FPS)를 그린 새 RGB 배열. det: {"boxes" xyxy, "labels", "scores"}."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(frame_rgb)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(korean_font_path(), size=max(12, img.width // 40))
    for box, label, score in zip(det["boxes"].tolist(), det["labels"].tolist(), det["scores"].tolist()):
        colour = PALETTE[label % len(PALETTE)]
        draw.rectangle(box, outline=colour, width=max(2, img.width // 200))
        draw.text((box[0] + 2, box[1] + 1), f"{class_names[label]} {score:.2f}", fill=colour, font=font,
                  stroke_width=2, stroke_fill=(255, 255, 255))
    if fps is not None:
        draw.text((5, 5), f"FPS {fps:.1f}", fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(img)


def plot_detections_grid(images, dets, names, path, title, score_threshold=None, ncols=3) -> Path:
    """이미지((3,H,W) uint8)마다 박스(와 점수)를 그린 격자 그림. score_threshold 보다 낮은 점수의 예측은 뺍니다."""
    import matplotlib.patches as patches
    import torch
    from matplotlib import colormaps

    from utils.visualization import new_figure, save_figure

    fig, axes = new_figure(ncols=ncols, nrows=max(1, math.ceil(len(images) / ncols)), size=(3.3, 3.3))
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, det in zip(axes.flat, images, dets):
        keep = torch.ones(len(det["labels"]), dtype=torch.bool)
        if score_threshold is not None and "scores" in det:
            keep = det["scores"] >= score_threshold
        ax.imshow(img.permute(1, 2, 0).numpy())
        shown = {}
        for k, (box, label) in enumerate(zip(det["boxes"][keep].tolist(), det["labels"][keep].tolist())):
            colour = colormaps["tab10"](label % 10)
            ax.add_patch(patches.Rectangle((box[0], box[1]), box[2] - box[0], box[3] - box[1], fill=False,
                                           edgecolor=colour, linewidth=1.5))
            if "scores" in det:
                ax.text(box[0], box[1], f"{det['scores'][keep][k]:.2f}", color="white", fontsize=6,
                        bbox={"facecolor": colour, "pad": 0.5, "linewidth": 0})
            shown.setdefault(names[label], patches.Patch(color=colour, label=names[label]))
        if shown:
            ax.legend(handles=list(shown.values()), fontsize=6, loc="lower right", framealpha=0.7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_box_panels(panels: list[dict], path, title: str, size: int = 100) -> Path:
    """빈 캔버스(size×size 픽셀, y 는 아래로) 위에 박스를 그린 칸들 (레슨 06의 IoU·NMS 그림).

    panel: {"title", "boxes" (K,4) xyxy, "texts" 박스마다 글자, ("colours" 박스마다 tab10 번호), ("shade" xyxy 하나)}.
    """
    import matplotlib.patches as patches
    from matplotlib import colormaps

    from utils.visualization import new_figure, save_figure

    fig, axes = new_figure(ncols=len(panels), size=(3.4, 3.4))
    for ax, panel in zip(axes[0], panels):
        ax.set_xlim(0, size)
        ax.set_ylim(size, 0)
        ax.set_aspect("equal")
        ax.set_title(panel.get("title", ""), fontsize=9)
        if panel.get("shade") is not None:
            x0, y0, x1, y1 = [float(v) for v in panel["shade"]]
            ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="tab:green", alpha=0.35,
                                           hatch="//", edgecolor="tab:green", label="교집합"))
            ax.legend(loc="lower right", fontsize=8)
        colours = panel.get("colours", range(len(panel["boxes"])))
        for box, text, colour in zip(panel["boxes"].tolist(), panel["texts"], colours):
            colour = colormaps["tab10"](int(colour) % 10)
            ax.add_patch(patches.Rectangle((box[0], box[1]), box[2] - box[0], box[3] - box[1], fill=False,
                                           edgecolor=colour, linewidth=2))
            ax.text(box[0] + 1, box[1] + 1, text, color="white", fontsize=8, va="top",
                    bbox={"facecolor": colour, "pad": 1, "linewidth": 0})
    fig.suptitle(title)
    return save_figure(fig, path)


def save_detections(frame_rgb: np.ndarray, det: dict, class_names: list[str], path: Path) -> Path:
    """박스를 그린 사진을 PNG로 저장합니다 (--image)."""
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(draw_detections(frame_rgb, det, class_names)).save(path)
    return Path(path)


def detect_image_files(items: list[str], make_detector: Callable[[], Callable[[np.ndarray], dict]],
                       class_names: list[str], out_dir: Path) -> list[dict]:
    """--image: 파일·폴더의 사진을 모두 읽은 뒤(없거나 이미지가 아니면 한국어 오류) 탐지해 박스를 그려 저장합니다.

    make_detector() 는 사진을 다 읽은 뒤에 부릅니다 (잘못된 입력을 모델을 읽기 전에 알리려고).
    """
    paths = collect_image_paths(items)
    frames = [np.array(read_image(p, "RGB")) for p in paths]
    detect, rows = make_detector(), []
    for path, frame in zip(paths, frames):
        det = detect(frame)
        save_detections(frame, det, class_names, Path(out_dir) / f"{path.stem}_탐지.png")
        found = [f"{class_names[c]} {s:.2f}" for c, s in zip(det["labels"].tolist(), det["scores"].tolist())]
        print(f"  {path.name}: {', '.join(found) or '없음'}")
        rows.append({"path": str(path), "detections": len(found)})
    print(f"  박스를 그린 그림: {out_dir}")
    return rows


def opencv_has_gui() -> bool:
    """opencv-python-headless(requirements 기본)나 화면 없는 서버에서는 창을 띄울 수 없습니다."""
    import cv2

    gui_line = [ln for ln in cv2.getBuildInformation().splitlines() if "GUI:" in ln]
    has_display = os.name == "nt" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return bool(has_display) and not (gui_line and gui_line[0].split(":")[1].strip() == "NONE")


def open_capture(source: str | int):
    """영상 파일 경로 또는 카메라 번호를 엽니다. 없거나 열 수 없으면 한국어 오류."""
    import cv2

    if isinstance(source, str) and not Path(source).is_file():
        raise CourseError(f"영상 파일을 찾을 수 없습니다: {source}")
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"카메라 {source}번" if isinstance(source, int) else f"영상 파일 {source}"
        raise CourseError(f"{what}을(를) 열 수 없습니다. 연결·권한·파일 형식을 확인하세요.")
    return cap


def stream_detections(source: str | int, make_detector: Callable[[], Callable[[np.ndarray], dict]],
                      class_names: list[str], out_path: Path, max_frames: int | None = None) -> Path | None:
    """프레임마다 탐지해 박스와 FPS를 그립니다. 창을 띄울 수 있으면 창(q: 종료), 아니면 영상 파일로 저장.

    make_detector() 는 영상을 연 뒤에 부릅니다 (없는 파일이면 모델을 읽기 전에 알리려고).
    돌려받은 함수는 RGB 프레임 하나 → {"boxes", "labels", "scores"} (원본 좌표).
    """
    import cv2

    cap = open_capture(source)
    try:
        detect = make_detector()
    except CourseError:
        cap.release()
        raise
    show = opencv_has_gui()
    if isinstance(source, int) and not show and max_frames is None:
        max_frames = 300    # 창 없이 웹캠을 끝없이 녹화하지 않도록
    writer, count, fps = None, 0, 0.0
    try:
        while max_frames is None or count < max_frames:
            ok, frame_bgr = cap.read()
            if not ok:
                break
            t0 = time.perf_counter()
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            det = detect(rgb)
            now = 1 / max(time.perf_counter() - t0, 1e-6)   # 탐지까지 포함한 초당 프레임 수 (지수 이동 평균)
            fps = 0.9 * fps + 0.1 * now if count else now
            annotated = cv2.cvtColor(draw_detections(rgb, det, class_names, fps), cv2.COLOR_RGB2BGR)
            count += 1
            if show:
                cv2.imshow("YOLO 탐지 (q: 종료)", annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
            else:
                if writer is None:
                    h, w = annotated.shape[:2]
                    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (w, h))
                writer.write(annotated)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    if count == 0:
        raise CourseError(f"{source} 에서 프레임을 하나도 읽지 못했습니다 (빈 영상이거나 지원하지 않는 형식).")
    print(f"{count}프레임 처리, 탐지 포함 약 {fps:.1f} FPS")
    if show:
        return None
    print(f"[안내] 이 OpenCV에는 화면 창 기능(GUI)이 없어(opencv-python-headless 또는 화면 없는 서버) "
          f"박스를 그린 영상을 파일로 저장했습니다: {out_path}\n"
          "       창으로 보려면: pip uninstall opencv-python-headless && pip install opencv-python")
    return out_path
