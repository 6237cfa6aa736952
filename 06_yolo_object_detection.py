# %% [markdown]
# # 06. YOLO 객체 탐지 — 바운딩 박스, IoU, NMS, mAP, 처음부터 학습하는 YOLO식 탐지기
#
# **학습 목표**
# - 바운딩 박스(bounding box)의 세 가지 표기(xyxy, xywh, YOLO 레이블의 정규화된 cx·cy·w·h)를 서로 바꿉니다.
# - IoU, 비최대 억제(NMS), 평균 정밀도(AP)와 mAP(mean Average Precision, 클래스별 AP의 평균)를 직접 구현합니다.
#   테스트가 라이브러리 함수를 막아 둔 채 실행한 뒤 torchvision·pycocotools(COCO 공식 평가)와 결과가 같음을 확인합니다.
# - 격자 칸마다 '물체가 있는가(객체성)·박스·클래스'를 예측하는 앵커 없는(anchor-free) YOLO식 탐지기를
#   처음부터 학습하고, 손실 함수(loss function)를 항목별로 이해합니다.
# - 실제 사진(COCO 표본 coco128)의 정답 박스와 클래스 통계를 보고, CPU에서 초당 프레임 수(FPS)를 잽니다.
#
# **데이터셋**
# - 생성 도형 탐지 데이터(내려받기 없음): 128×128 RGB, 도형 4종(원·사각형·삼각형·십자; 클래스는 색이 아니라
#   '모양'으로 정해지고 색은 물체마다 무작위), 변 12~56 px, 이미지마다 1~6개(서로 IoU ≤ 0.3), 무늬·잡음이 있는 배경.
#   학습 6,000장(시드 S), 검증 300장(시드 S+1), 테스트 600장(시드 S+2).
# - coco128: COCO train2017 의 처음 128장 (YOLO 레이블), `DL_DATA_DIR/coco128/`.
#   없으면 안내 후 실제 사진 부분만 건너뜁니다 (결과에 `fallback` 으로 기록).
#
# **핵심 개념**: 바운딩 박스, IoU, 비최대 억제(NMS), 평균 정밀도(AP), mAP@0.5, mAP@[.5:.95] (COCO 101점 보간),
# 격자(grid)와 스트라이드(stride), 중심 샘플링, IoU 손실, 객체성(objectness), 실시간 추론과 FPS
#
# **실행 방법**
# ```
# python 06_yolo_object_detection.py                  # 전체: 데이터 생성 → 학습 → mAP → FPS → 그림
# python 06_yolo_object_detection.py --quick          # 흐름만 확인 (20초 안팎)
# python 06_yolo_object_detection.py --image 사진.jpg  # 학습된 탐지기로 사진(또는 폴더) 탐지
# python 06_yolo_object_detection.py --video 영상.mp4  # 영상 탐지 → 박스와 FPS를 그린 영상 파일
# python 06_yolo_object_detection.py --camera 0       # 웹캠 (창은 GUI 있는 opencv-python 에서만)
# ```
# 노트북(`notebooks/06_yolo_object_detection.ipynb`)에서는 아래 매개변수 셀의 `QUICK` 으로 고릅니다.
#
# **예상 시간** (측정값은 `docs/RESULTS.md`): 2코어 CPU에서 약 6분 (학습 10에폭), `--quick` 은 20초 안팎.
# GPU에서는 1분 안팎.

# %%
import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.models.detection import ssdlite320_mobilenet_v3_large

from utils.chapter import section, start_chapter
from utils.data_utils import TensorBatches
from utils.datasets import coco128
from utils.model_utils import (CourseError, add_threads_option, count_parameters, cpu_threads, fit, load_checkpoint,
                               make_parser, positive_int)
from utils.video import (add_stream_options, detect_image_files, only_one, plot_box_panels, plot_detections_grid,
                         stream_detections)
from utils.visualization import new_figure, save_figure

# %% tags=["parameters"]
QUICK = False      # True: 작은 생성 데이터와 1에폭으로 흐름만 확인
DATA_DIR = None    # 데이터 루트 (None: 환경 변수 DL_DATA_DIR, 없으면 ./data)
OUT_DIR = "runs"   # 그림·체크포인트·metrics.json 을 둘 곳

# %% [markdown]
# 실행 설정: 스크립트로 실행하면 명령행 옵션(`--quick`, `--epochs`, `--image` …)을, 노트북에서는 위 매개변수 셀을 씁니다.

# %%
LESSON = "06_yolo_object_detection"
IMG_SIZE = 128          # 생성 데이터와 탐지기의 입력 크기
STRIDE = 8              # 특성 맵(feature map) 한 칸 = 입력 8×8 픽셀 → 128/8 = 16×16 격자
SHAPE_CLASSES = ["원", "사각형", "삼각형", "십자"]
MIN_SIDE, MAX_SIDE, MAX_OBJECTS, MAX_PAIR_IOU = 12, 56, 6, 0.3
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)   # mAP@[.5:.95] 의 IoU 기준 10개
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)    # COCO 101점 보간의 재현율 지점
BOX_LOSS_WEIGHT = 5.0   # 박스 손실의 가중치: 1-IoU 는 0~1 로 작아서 객체성·클래스 손실과 균형을 맞춥니다
N_VAL, QUICK_SIZES = 300, (480, 40, 60)   # 검증 이미지 수, --quick 의 학습·검증·테스트 이미지 수


def build_parser():
    p = make_parser(f"{LESSON}.py", "레슨 06 — YOLO식 객체 탐지: 박스·IoU·NMS·mAP와 처음부터 학습하는 탐지기",
                    epochs=10, batch_size=32, lr=3e-3)
    p.add_argument("--image", nargs="+", metavar="FILE|FOLDER", help="학습된 탐지기로 사진(들) 탐지")
    add_stream_options(p)   # --video, --camera, --max-frames
    p.add_argument("--n-train", type=positive_int, default=6000, help="생성 학습 이미지 수 (기본 6000)")
    p.add_argument("--n-test", type=positive_int, default=600, help="생성 테스트 이미지 수 (기본 600, 다른 시드)")
    add_threads_option(p)
    return p


# %%
if __name__ == "__main__":
    args, run = start_chapter(LESSON, build_parser(), quick=QUICK, data_dir=DATA_DIR, out_dir=OUT_DIR,
                              actions={"image": "detect_images", "video": "detect_video", "camera": "detect_video"})

# %% [markdown]
# ## 1. 바운딩 박스의 세 가지 표기
# 같은 박스를 세 가지로 적습니다.
# - **xyxy** `(왼쪽, 위, 오른쪽, 아래)` 픽셀 — IoU·NMS 계산이 가장 쉬운 표기 (torchvision 이 씁니다).
# - **xywh** `(왼쪽, 위, 너비, 높이)` 픽셀 — COCO json 의 `bbox`.
# - **cxcywh** `(중심 x, 중심 y, 너비, 높이)` — YOLO 레이블 파일은 이것을 이미지 너비·높이로 나눈 0~1 값이라,
#   같은 레이블이 어떤 해상도의 이미지에도 맞습니다.

# %%
def xyxy_to_xywh(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2], b[..., 2:] - b[..., :2]], dim=-1)


def xywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2], b[..., :2] + b[..., 2:]], dim=-1)


def xyxy_to_cxcywh(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], dim=-1)


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], dim=-1)


def yolo_to_xyxy(b: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """YOLO 레이블(정규화 cx,cy,w,h) → 픽셀 xyxy: 이미지의 너비·높이를 곱해 되돌립니다."""
    scale = torch.tensor([width, height, width, height], dtype=b.dtype)
    return cxcywh_to_xyxy(b * scale)


def xyxy_to_yolo(b: torch.Tensor, width: int, height: int) -> torch.Tensor:
    scale = torch.tensor([width, height, width, height], dtype=b.dtype)
    return xyxy_to_cxcywh(b) / scale


# %%
if __name__ == "__main__":
    section("1. 바운딩 박스의 세 가지 표기")
    box = torch.tensor([[32.0, 16.0, 96.0, 64.0]])
    print("  같은 박스의 세 가지 표기 (128×128 이미지):")
    print(f"  xyxy  (왼쪽,위,오른쪽,아래) = {box.tolist()[0]}")
    print(f"  xywh  (왼쪽,위,너비,높이)   = {xyxy_to_xywh(box).tolist()[0]}  ← COCO json")
    print(f"  YOLO  (정규화 cx,cy,w,h)    = {xyxy_to_yolo(box, 128, 128).tolist()[0]}  ← YOLO 레이블 파일")

# %% [markdown]
# ## 2. IoU: 두 박스가 얼마나 겹치는가
# $$\mathrm{IoU}(A,B) = \frac{|A\cap B|}{|A\cup B|} = \frac{|A\cap B|}{|A| + |B| - |A\cap B|} \in [0, 1]$$
# 교집합은 '왼쪽 위 모서리의 최댓값'과 '오른쪽 아래 모서리의 최솟값'이 만드는 사각형입니다 (겹치지 않으면 너비·높이가
# 음수 → 0). 브로드캐스팅으로 N개 × M개 박스의 모든 쌍을 한 번에 계산합니다.
# 그림 `iou.png` 는 50×50 박스 둘이 25×35 만큼 겹친 경우입니다: 교집합 875 / 합집합 4,125 ≈ 0.212 — 꽤 겹쳐 보여도
# IoU 는 0.5 에 한참 못 미칩니다.

# %%
def box_area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,4)×(M,4) → (N,M) 교집합 넓이."""
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)   # 겹치지 않으면 너비·높이가 음수 → 0
    return wh[..., 0] * wh[..., 1]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """쌍별 IoU 행렬 (N,M) = 교집합 / 합집합."""
    inter = box_intersection(a, b)
    return inter / (box_area(a)[:, None] + box_area(b)[None, :] - inter)


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """같은 위치끼리의 IoU (N,4),(N,4) → (N,). 손실 함수에서 예측 박스와 그 정답 박스를 비교할 때 씁니다."""
    wh = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (box_area(a) + box_area(b) - inter).clamp(min=1e-9)


# %%
if __name__ == "__main__":
    section("2. IoU")
    a = torch.tensor([[0.0, 0, 10, 10]])
    b = torch.tensor([[0.0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]])
    print(f"  A = {a.tolist()[0]},  B = {b.tolist()}")
    print(f"  IoU(A, B) = {[round(v, 4) for v in box_iou(a, b)[0].tolist()]}"
          "  (같은 박스 1, 반씩 어긋나면 25/175 ≈ 0.143, 떨어져 있으면 0)")
    pair = torch.tensor([[15.0, 20, 65, 70], [40, 35, 90, 85]])   # 그림: 50×50 박스 둘이 25×35 만큼 겹침
    inter = box_intersection(pair[:1], pair[1:]).item()
    union = box_area(pair).sum().item() - inter
    corners = torch.cat([pair[:, :2].max(0).values, pair[:, 2:].min(0).values])   # 왼쪽 위의 최댓값 ~ 오른쪽 아래의 최솟값
    plot_box_panels([{"boxes": pair, "texts": ["A", "B"], "shade": corners}], run.path("iou.png"),
                    f"IoU(A, B) = 교집합 {inter:.0f} / 합집합 {union:.0f} = {box_iou(pair[:1], pair[1:]).item():.3f}")

# %% [markdown]
# ## 3. 비최대 억제(NMS)
# 탐지기는 한 물체 둘레의 여러 격자 칸에서 거의 같은 박스를 냅니다. NMS는 점수가 가장 높은 박스를 남기고,
# 그것과 IoU가 기준보다 큰 나머지를 지우기를 되풀이합니다(탐욕적). 클래스별 NMS는 다른 클래스의 박스끼리는
# 지우지 않습니다 (겹쳐 서 있는 사람과 자전거처럼). 테스트가 `torchvision.ops.nms` 와 결과를 비교합니다 (점수 동점 포함).
# 그림 `nms.png` 는 아래 예의 후보 5개를 NMS 전, NMS 후, 클래스별 NMS 후로 나란히 보여 줍니다.

# %%
def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """탐욕적(greedy) NMS. 점수가 같으면 앞 번호가 먼저(안정 정렬). 남긴 박스의 번호를 점수 내림차순으로."""
    order = torch.sort(scores, descending=True, stable=True).indices
    # 기준값과의 비교는 float64로 (float32로 바꾼 0.3 은 0.3보다 조금 커서, 경계의 박스 판정이 달라짐)
    overlaps = (box_iou(boxes[order], boxes[order]).double() > iou_threshold).numpy()
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]   # 방금 남긴 박스와 많이 겹치는 나머지를 모두 지움
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """클래스별 NMS: 클래스마다 따로 NMS 한 뒤 합쳐서 점수 순으로."""
    kept = [torch.nonzero(labels == c).flatten()[nms(boxes[labels == c], scores[labels == c], iou_threshold)]
            for c in torch.unique(labels)]
    keep = torch.sort(torch.cat(kept)).values if kept else torch.zeros(0, dtype=torch.long)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


# %%
if __name__ == "__main__":
    section("3. 비최대 억제(NMS)")
    # 물체 둘(왼쪽 위·오른쪽 아래)에 겹친 후보들, 그리고 왼쪽 위 물체에 겹친 다른 클래스의 박스 하나(3번)
    boxes = torch.tensor([[10.0, 10, 50, 50], [14, 18, 54, 58], [60, 58, 92, 92], [6, 2, 46, 42], [64, 66, 96, 98]])
    scores, labels = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5]), torch.tensor([0, 0, 0, 1, 0])
    ious = box_iou(boxes, boxes)
    print(f"  박스 5개, 점수 {[round(s, 2) for s in scores.tolist()]}, 클래스 {labels.tolist()}")
    print(f"  IoU: 0번-1번 {ious[0, 1]:.3f}, 0번-3번 {ious[0, 3]:.3f}, 2번-4번 {ious[2, 4]:.3f} (모두 기준 0.5 초과)")
    print(f"  NMS(기준 0.5) 후 남은 번호: {nms(boxes, scores, 0.5).tolist()}  (1·3번은 0번과, 4번은 2번과 겹쳐 지워짐)")
    print(f"  클래스별 NMS 후: {batched_nms(boxes, scores, labels, 0.5).tolist()}  (3번은 다른 클래스라 남음)")
    texts = [f"{i}번 클래스{c} {s:.1f}" for i, (c, s) in enumerate(zip(labels.tolist(), scores.tolist()))]
    panels = [("NMS 전: 후보 5개", torch.arange(5)), ("NMS 후 (IoU 기준 0.5)", nms(boxes, scores, 0.5)),
              ("클래스별 NMS 후", batched_nms(boxes, scores, labels, 0.5))]
    plot_box_panels([{"title": t, "boxes": boxes[k], "texts": [texts[i] for i in k], "colours": labels[k]}
                     for t, k in panels], run.path("nms.png"),
                    "비최대 억제: 점수가 가장 높은 박스를 남기고, 그것과 IoU > 0.5 인 박스를 지우기를 되풀이")

# %% [markdown]
# ## 4. 평균 정밀도(AP)와 mAP — COCO 방식
# 예측을 점수 순으로 하나씩 받아들이며, 같은 클래스의 아직 짝이 없는 정답과 IoU ≥ 기준이면 맞힘(TP), 아니면 틀림(FP).
# - 정밀도 = TP / (TP + FP), 재현율 = TP / 정답 수. 점수 기준을 낮출수록 재현율은 오르고 정밀도는 대개 내려갑니다.
# - **AP** = 정밀도-재현율 곡선 아래 넓이. COCO는 재현율 0, 0.01, …, 1 의 101점에서 '그 재현율 이상에서 얻을 수 있는
#   최대 정밀도'(보간)를 평균합니다.
# - **mAP@0.5**: IoU 기준 0.5에서 클래스별 AP의 평균. **mAP@[.5:.95]**: 기준 0.5, 0.55, …, 0.95 열 개의 평균 —
#   박스를 얼마나 정확히 맞혔는지까지 봅니다.
# - 군중(crowd) 정답은 '세지 않는 정답': 맞혀도 TP가 아니고, 거기 걸린 예측은 FP도 아닙니다.
#
# 예측·정답은 이미지마다 사전 `{"boxes": (K,4) xyxy, "labels": (K,), "scores": (K,)}` (정답은 scores 대신 선택적으로
# `"iscrowd"`). 테스트가 pycocotools(COCO 공식 평가)를 막아 둔 채 이 코드를 돌리고, 같은 값이 나오는지 확인합니다.

# %%
def _crowd_aware_iou(dt: torch.Tensor, gt: torch.Tensor, crowd: torch.Tensor) -> torch.Tensor:
    """COCO 규칙: 군중 정답과의 IoU는 '교집합 / 예측 넓이' (군중 안의 한 사람을 찾은 예측을 벌하지 않도록)."""
    iou = box_iou(dt, gt)
    if crowd.any():
        inter_over_dt = box_intersection(dt, gt) / box_area(dt)[:, None]
        iou[:, crowd] = inter_over_dt[:, crowd]
    return iou


def match_detections(dt_boxes, gt_boxes, gt_crowd, thresholds=COCO_IOU_THRESHOLDS):
    """한 이미지·한 클래스에서 점수 순서대로 예측을 정답에 짝지음 (IoU 기준마다 따로).

    돌려주는 값: tp (T,D), ignored (T,D) — 각 예측이 기준 t에서 맞힘인지, 군중에 걸려 무시되는지.
    """
    n_thr, n_dt, n_gt = len(thresholds), len(dt_boxes), len(gt_boxes)
    tp = np.zeros((n_thr, n_dt), dtype=bool)
    ignored = np.zeros((n_thr, n_dt), dtype=bool)
    if n_dt == 0 or n_gt == 0:
        return tp, ignored
    crowd = gt_crowd.numpy().astype(bool)
    ious = _crowd_aware_iou(dt_boxes.double(), gt_boxes.double(), gt_crowd.bool()).numpy()
    thr = np.minimum(np.asarray(thresholds), 1 - 1e-10)[:, None]
    taken = np.zeros((n_thr, n_gt), dtype=bool)           # 이미 짝이 정해진 (군중이 아닌) 정답
    rows = np.arange(n_thr)
    for d in range(n_dt):
        free = (ious[d] >= thr) & ~(taken & ~crowd)       # (T,G) 짝이 될 수 있는 정답
        regular = free & ~crowd
        candidates = np.where(regular.any(1, keepdims=True), regular, free & crowd)  # 일반 정답 우선
        found = candidates.any(1)
        values = np.where(candidates, ious[d], -1.0)[:, ::-1]
        best = n_gt - 1 - values.argmax(1)                # 가장 큰 IoU (같으면 뒤쪽: COCO와 같은 규칙)
        tp[:, d] = found & ~crowd[best]
        ignored[:, d] = found & crowd[best]
        taken[rows[found], best[found]] = True
    return tp, ignored


def interpolated_precision(tp: np.ndarray, ignored: np.ndarray, n_gt: int) -> np.ndarray:
    """점수 순으로 정렬된 예측의 TP 표 (T,D) → 재현율 101점에서의 보간 정밀도 (T,101).

    보간: 어떤 재현율 r에서의 정밀도 = r 이상 재현율에서 얻을 수 있는 최대 정밀도 (톱니 모양을 펴 줌).
    """
    tp_cum = np.cumsum(tp & ~ignored, axis=1).astype(float)
    fp_cum = np.cumsum(~tp & ~ignored, axis=1).astype(float)
    recall = tp_cum / n_gt
    precision = tp_cum / (tp_cum + fp_cum + np.spacing(1))
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]   # 오른쪽 최대값으로 채움
    out = np.zeros((tp.shape[0], len(COCO_RECALL_POINTS)))
    for t in range(tp.shape[0]):
        idx = np.searchsorted(recall[t], COCO_RECALL_POINTS, side="left")
        valid = idx < recall.shape[1]
        out[t, valid] = precision[t, idx[valid]]
    return out


def mean_average_precision(predictions: list[dict], targets: list[dict], max_dets: int = 100) -> dict:
    """COCO 방식 mAP. 돌려주는 값: map50, map50_95, 클래스별 AP, PR 곡선용 (IoU 기준별, 재현율 101점의 정밀도)."""
    per_class: dict[int, dict] = {}
    for pred, target in zip(predictions, targets):
        crowd = target.get("iscrowd", torch.zeros(len(target["labels"]), dtype=torch.long)).bool()
        for c in torch.unique(torch.cat([pred["labels"], target["labels"]])).tolist():
            g, d = target["labels"] == c, pred["labels"] == c
            # 정답은 일반 → 군중 순서, 예측은 점수 내림차순으로 이미지당 max_dets 개까지
            g_order = torch.sort(crowd[g].long(), stable=True).indices
            gt_boxes, gt_crowd = target["boxes"][g][g_order], crowd[g][g_order]
            d_order = torch.sort(pred["scores"][d], descending=True, stable=True).indices[:max_dets]
            tp, ign = match_detections(pred["boxes"][d][d_order], gt_boxes, gt_crowd)
            acc = per_class.setdefault(c, {"scores": [], "tp": [], "ignored": [], "n_gt": 0})
            acc["scores"].append(pred["scores"][d][d_order].double().numpy())
            acc["tp"].append(tp)
            acc["ignored"].append(ign)
            acc["n_gt"] += int((~gt_crowd).sum())
    ap, pr_curve = {}, {}
    for c, acc in sorted(per_class.items()):
        if acc["n_gt"] == 0:      # 정답이 없는 클래스는 평균에서 뺍니다 (COCO와 같음)
            continue
        order = np.argsort(-np.concatenate(acc["scores"]), kind="mergesort")
        tp = np.concatenate(acc["tp"], axis=1)[:, order]
        ign = np.concatenate(acc["ignored"], axis=1)[:, order]
        precision = interpolated_precision(tp, ign, acc["n_gt"])
        ap[c] = precision.mean(axis=1)          # (T,) IoU 기준별 AP
        pr_curve[c] = precision                 # (T, 101)
    if not ap:
        return {"map50": -1.0, "map50_95": -1.0, "ap50_per_class": {}, "ap_per_class": {}, "pr_curve": {}}
    table = np.stack(list(ap.values()))          # (클래스, T)
    return {"map50": float(table[:, 0].mean()), "map50_95": float(table.mean()),
            "ap50_per_class": {c: float(v[0]) for c, v in ap.items()},
            "ap_per_class": {c: float(v.mean()) for c, v in ap.items()}, "pr_curve": pr_curve}


# %%
if __name__ == "__main__":
    section("4. 평균 정밀도(AP)와 mAP")
    truth = [{"boxes": torch.tensor([[10.0, 10, 50, 50], [60, 60, 100, 100]]), "labels": torch.tensor([0, 0])}]
    guess = [{"boxes": torch.tensor([[12.0, 10, 50, 52], [0, 60, 30, 90], [62, 58, 100, 96]]),
              "scores": torch.tensor([0.9, 0.8, 0.6]), "labels": torch.tensor([0, 0, 0])}]
    demo = mean_average_precision(guess, truth)
    print("  정답 2개, 예측 3개 (점수 0.9 맞힘 → 0.8 틀림 → 0.6 맞힘)")
    print(f"  mAP@0.5 = {demo['map50']:.3f} (재현율 0.5까지 정밀도 1, 그 뒤 2/3), mAP@[.5:.95] = {demo['map50_95']:.3f}")

# %% [markdown]
# ## 5. 실제 사진: coco128 과 YOLO 레이블
# coco128 은 COCO 의 사진 128장과 YOLO 레이블 파일(이미지마다 `클래스 cx cy w h` 줄들, 좌표는 0~1)입니다.
# 파일 찾기·내려받기·읽기는 `utils/datasets/coco128.py` 가 하고, 여기서는 1절의 `yolo_to_xyxy` 로 레이블을
# 이미지마다 자기 크기의 픽셀 좌표로 바꿔 정답 박스를 그립니다. 클래스 통계는 '사람'이 압도적으로 많은
# 실제 데이터의 불균형을 보여 줍니다.

# %%
def coco_targets(data: coco128.Coco128) -> list[dict]:
    """YOLO 레이블(정규화) → 픽셀 xyxy 정답. 이미지마다 크기가 다르므로 각자의 너비·높이를 곱합니다."""
    return [{"boxes": yolo_to_xyxy(b, img.shape[2], img.shape[1]), "labels": lab}
            for img, b, lab in zip(data.images, data.yolo_boxes, data.labels)]


def plot_class_statistics(labels: torch.Tensor, names: list[str], path: Path, top: int = 20) -> Path:
    counts = torch.bincount(labels, minlength=len(names))
    order = torch.argsort(counts, descending=True, stable=True)[:top]
    fig, axes = new_figure(size=(9, 4))
    ax = axes[0, 0]
    ax.bar([names[i] for i in order.tolist()], counts[order].tolist(), color="tab:blue")
    ax.set_title(f"coco128 클래스별 박스 수 (상위 {top}개, 전체 {int(counts.sum())}개, "
                 f"등장 클래스 {int((counts > 0).sum())}개)")
    ax.set_ylabel("박스 수")
    ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("5. 실제 사진: coco128 과 YOLO 레이블")
    coco, data_source = coco128.load(args, limit=6 if args.quick else None)
    if coco is None:
        print("  coco128이 없어 실제 사진 부분을 건너뜁니다 (생성 도형 데이터로 탐지기 학습은 그대로 진행).")
    else:
        coco_truth, coco_names = coco_targets(coco), coco128.korean_names(coco.class_names)
        empty = sum(len(t["labels"]) == 0 for t in coco_truth)
        print(f"  coco128: 이미지 {len(coco.paths)}장 읽음 (그중 물체 없는 이미지 {empty}장), "
              f"레이블 파일 전체의 박스 {len(coco.all_labels)}개")
        plot_detections_grid(coco.images[:6], coco_truth[:6], coco_names, run.path("coco128_ground_truth.png"),
                             "coco128 정답 박스 (YOLO 레이블을 픽셀 좌표로 변환)")
        plot_class_statistics(coco.all_labels, coco_names, run.path("coco128_class_statistics.png"))

# %% [markdown]
# ## 6. COCO로 사전 학습된 탐지기로 coco128 평가하기
# torchvision 의 SSDLite320-MobileNetV3 (COCO 80클래스)를 coco128 에 돌리고, 4절에서 직접 만든 mAP로 잽니다.
# torchvision 은 COCO 의 원래 번호(빈칸이 있는 91칸)를 쓰므로 coco128 의 0~79 번호로 바꿔 비교합니다.
# 가중치는 torch hub 캐시에 있을 때만 씁니다 (`python download_data.py 06` 이 받아 둡니다).
# 이 모델은 COCO 학습 세트 전체(약 12만 장)로 80클래스를 배웠습니다. 7절부터는 작은 탐지기를 생성 데이터로
# 처음부터 학습해, 그 안에서 일어나는 일(격자·인코딩·손실·디코딩)을 직접 봅니다.

# %%
def build_coco_detector(pretrained: bool) -> nn.Module:
    """pretrained=False면 무작위 가중치 (테스트가 네트워크 없이 같은 코드 경로를 확인할 때)."""
    weights = coco128.detector_weights() if pretrained else None
    return ssdlite320_mobilenet_v3_large(weights=weights, weights_backbone=None).eval()


@torch.no_grad()
def detect_coco(model: nn.Module, images: list[torch.Tensor], batch_size: int = 8) -> list[dict]:
    """torchvision 탐지기 출력 → 이 장의 형식 (xyxy, scores, 0~79 labels)."""
    table = coco128.coco91_to_80()
    out = []
    for i in range(0, len(images), batch_size):
        for det in model([img.float() / 255 for img in images[i:i + batch_size]]):
            labels = table[det["labels"]]
            keep = labels >= 0
            out.append({"boxes": det["boxes"][keep], "scores": det["scores"][keep], "labels": labels[keep]})
    return out


def evaluate_pretrained(data: coco128.Coco128, run) -> dict | None:
    if not coco128.weights_cached():   # 캐시에 없으면 받는 방법을 안내하고 건너뜀 (오프라인에서 멈추지 않게)
        return None
    preds = detect_coco(build_coco_detector(pretrained=True), data.images)
    result = mean_average_precision(preds, coco_targets(data))
    print(f"  사전 학습 SSDLite: coco128 {len(data.images)}장 mAP@0.5 {result['map50']:.3f}, "
          f"mAP@[.5:.95] {result['map50_95']:.3f} (이 장의 mAP 코드로 계산)")
    plot_detections_grid(data.images[:6], preds[:6], coco128.korean_names(data.class_names),
                         run.path("coco_pretrained_detections.png"),
                         "사전 학습 탐지기의 coco128 탐지 결과 (점수 0.4 이상)", score_threshold=0.4)
    return result


# %%
if __name__ == "__main__":
    section("6. 사전 학습된 탐지기로 coco128 평가")
    if coco is None or args.quick:
        print("  [안내] coco128이 없거나 --quick 이라 사전 학습 탐지기 평가를 건너뜁니다.")
    pretrained = None if coco is None or args.quick else evaluate_pretrained(coco, run)

# %% [markdown]
# ## 7. 생성 도형 탐지 데이터
# 학습은 어디서나 내려받기 없이 만들 수 있는 도형 사진으로 합니다. 도형이 박스를 꽉 채우므로 정답 박스가
# 정확하고, 클래스는 모양으로만 정해집니다(색은 무작위). 배경에 색 얼룩·줄무늬·잡음을 넣어 '배경과 물체 구분'이
# 쉽지 않게 합니다. 학습·검증·테스트 세트는 서로 다른 시드로 만들어, 테스트 이미지는 학습 중 한 번도 보지 않습니다.

# %%
@dataclass
class ShapesData:
    images: torch.Tensor   # uint8 (N,3,128,128)
    boxes: torch.Tensor    # float (N,6,4) xyxy, 빈자리는 0
    labels: torch.Tensor   # long (N,6), 빈자리는 -1

    def targets(self) -> list[dict]:
        return [{"boxes": b[lab >= 0], "labels": lab[lab >= 0]} for b, lab in zip(self.boxes, self.labels)]


def shape_mask(cls: int, w: int, h: int) -> np.ndarray:
    """(h,w) 박스를 꽉 채우는 도형의 마스크. 박스 = 도형의 경계이므로 정답 박스가 정확합니다."""
    x = np.arange(w)[None, :] + 0.5 - w / 2    # 픽셀 중심 좌표 (박스 중심 기준)
    y = np.arange(h)[:, None] + 0.5 - h / 2
    if cls == 0:    # 원(타원)
        return (x / (w / 2)) ** 2 + (y / (h / 2)) ** 2 <= 1.0
    if cls == 1:    # 사각형
        return np.ones((h, w), dtype=bool)
    if cls == 2:    # 삼각형: 위 꼭짓점 → 아래 변. 맨 윗줄에도 가운데 픽셀이 있도록 반너비 ≥ 0.5
        half = np.maximum((y + h / 2 + 0.5) / h * (w / 2), 0.5)
        return np.abs(x) <= half
    return (np.abs(x) <= w / 6) | (np.abs(y) <= h / 6)   # 십자: 굵기 = 변의 1/3


def textured_backgrounds(n: int, rng: np.random.Generator) -> np.ndarray:
    """부드러운 색 얼룩 + 줄무늬 + 잔무늬: 평평한 배경보다 어렵게 (배경과 물체를 구분해야 하므로)."""
    s = IMG_SIZE
    # 색 얼룩은 16×16에서 만들어 한 번만 키웁니다 (128×128에서 계산하면 64배 느림)
    low = F.interpolate(torch.from_numpy(rng.random((n, 3, 4, 4), dtype=np.float32)), size=16, mode="bilinear")
    mid = torch.from_numpy(rng.random((n, 3, 16, 16), dtype=np.float32))
    colour_field = F.interpolate(30 + 190 * low + 50 * (mid - 0.5), size=s, mode="bilinear")
    yy, xx = torch.meshgrid(torch.arange(s, dtype=torch.float32), torch.arange(s, dtype=torch.float32),
                            indexing="ij")
    angle = torch.from_numpy(rng.uniform(0, np.pi, (n, 1, 1, 1)).astype(np.float32))
    freq = torch.from_numpy(rng.uniform(0.08, 0.5, (n, 1, 1, 1)).astype(np.float32))
    phase = torch.from_numpy(rng.uniform(0, 2 * np.pi, (n, 1, 1, 1)).astype(np.float32))
    stripes = torch.sin(freq * (xx * torch.cos(angle) + yy * torch.sin(angle)) + phase)
    stripe_colour = torch.from_numpy(rng.uniform(-35, 35, (n, 3, 1, 1)).astype(np.float32))
    return colour_field.add_(stripe_colour * stripes).clamp_(0, 255).numpy()


def place_objects(rng: np.random.Generator) -> list[tuple[int, int, int, int, int]]:
    """1~6개 물체의 (클래스, x0, y0, w, h). 다른 물체와 IoU > 0.3 이면 다시 뽑습니다."""
    count = int(rng.integers(1, MAX_OBJECTS + 1))
    placed, boxes = [], []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        side = rng.uniform(MIN_SIDE, MAX_SIDE)
        aspect = math.exp(rng.uniform(-0.4, 0.4))
        w = int(np.clip(round(side * aspect), MIN_SIDE, MAX_SIDE))
        h = int(np.clip(round(side / aspect), MIN_SIDE, MAX_SIDE))
        x0, y0 = int(rng.integers(0, IMG_SIZE - w + 1)), int(rng.integers(0, IMG_SIZE - h + 1))
        box = torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float32)
        if boxes and box_iou(box, torch.cat(boxes)).max() > MAX_PAIR_IOU:
            continue
        boxes.append(box)
        placed.append((int(rng.integers(len(SHAPE_CLASSES))), x0, y0, w, h))
    # 큰 물체부터 그려 작은 물체가 큰 물체에 완전히 가려지지 않게 합니다 (보이지 않는 정답 방지)
    return sorted(placed, key=lambda o: -o[3] * o[4])


def contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """배경 평균색과 충분히 다른 무작위 색 (색은 클래스와 무관: 모양으로만 구분하게)."""
    best, best_dist = None, -1.0
    for _ in range(20):
        colour = rng.uniform(0, 255, 3)
        dist = float(np.linalg.norm(colour - background))
        if dist > best_dist:
            best, best_dist = colour, dist
        if dist > 110:
            break
    return best


def make_shapes_dataset(n: int, seed: int, chunk: int = 500) -> ShapesData:
    """n장을 생성합니다. 같은 시드면 같은 데이터 (학습·검증·테스트는 서로 다른 시드)."""
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    images = torch.empty((n, 3, IMG_SIZE, IMG_SIZE), dtype=torch.uint8)
    boxes = torch.zeros((n, MAX_OBJECTS, 4))
    labels = torch.full((n, MAX_OBJECTS), -1, dtype=torch.long)
    for start in range(0, n, chunk):
        canvas = textured_backgrounds(min(chunk, n - start), rng)
        for k, img in enumerate(canvas):
            i = start + k
            for j, (cls, x0, y0, w, h) in enumerate(place_objects(rng)):
                mask = shape_mask(cls, w, h)
                region = img[:, y0:y0 + h, x0:x0 + w]
                colour = contrasting_colour(rng, region.reshape(3, -1).mean(1))
                region[:, mask] = colour[:, None]
                boxes[i, j] = torch.tensor([x0, y0, x0 + w, y0 + h], dtype=torch.float32)
                labels[i, j] = cls
        sigma = torch.from_numpy(rng.uniform(3, 12, (len(canvas), 1, 1, 1)).astype(np.float32))
        noisy = torch.from_numpy(canvas) + sigma * torch.randn(canvas.shape, generator=gen)   # 센서 잡음
        images[start:start + len(canvas)] = noisy.clamp_(0, 255).round_().to(torch.uint8)
    return ShapesData(images, boxes, labels)


# %%
if __name__ == "__main__":
    section("7. 생성 도형 탐지 데이터")
    n_train, n_val, n_test = QUICK_SIZES if args.quick else (args.n_train, N_VAL, args.n_test)
    t0 = time.perf_counter()
    train = make_shapes_dataset(n_train, seed=args.seed)
    val = make_shapes_dataset(n_val, seed=args.seed + 1)
    test = make_shapes_dataset(n_test, seed=args.seed + 2)
    print(f"  학습 {n_train}장 · 검증 {n_val}장 · 테스트 {n_test}장 "
          f"(학습 물체 {int((train.labels >= 0).sum())}개, {time.perf_counter() - t0:.1f}초)")
    plot_detections_grid(train.images[:6], train.targets()[:6], SHAPE_CLASSES, run.path("shapes_samples.png"),
                         "생성 도형 데이터와 정답 박스 (클래스는 모양, 색은 무작위)")

# %% [markdown]
# ## 8. 탐지기: 격자 칸마다 (객체성, 박스, 클래스)
# 작은 합성곱 백본이 128×128 입력을 스트라이드 8의 16×16 특성 맵으로 줄이고, 1×1 합성곱 머리가 칸마다
# `5 + C` 개의 수를 냅니다: 객체성 로짓 1개, 칸 중심에서 박스 네 변까지의 거리 `(l, t, r, b)` 4개, 클래스 로짓 C개.
# 앵커(anchor) 없이 거리를 바로 예측하는 방식은 FCOS·YOLOX 와 같습니다. 스트라이드 16의 가지(context)를 한 번 더
# 내려갔다 올려 더해, 큰 물체(56 px)도 한 칸이 전체를 보게 합니다. 완전 합성곱이라 320×320 입력도 그대로 됩니다.

# %%
def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.SiLU(inplace=True))


class TinyYOLO(nn.Module):
    """입력 128×128 → 스트라이드 8의 16×16 격자. 출력 채널: [객체성, l, t, r, b, 클래스 C개]."""

    def __init__(self, num_classes: int = len(SHAPE_CLASSES), width: int = 64):
        super().__init__()
        self.num_classes = num_classes
        self.stem = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, 32, 2), conv_bn(32, 32),
                                  conv_bn(32, width, 2), conv_bn(width, width), conv_bn(width, width))
        self.context = nn.Sequential(conv_bn(width, 96, 2), conv_bn(96, 96), nn.Conv2d(96, width, 1))
        self.head = nn.Sequential(conv_bn(width, width), nn.Conv2d(width, 5 + num_classes, 1))
        with torch.no_grad():   # 처음엔 '물체 없음' 쪽으로: 칸 대부분이 배경이라 학습 초반이 안정됩니다
            self.head[-1].bias[0] = -4.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.stem(x)
        f = f + F.interpolate(self.context(f), size=f.shape[-2:], mode="nearest")
        return self.head(f)


def preprocess(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N,3,H,W) → 0~1 실수. 스케일링(scaling)만 하고 나머지는 배치 정규화가 맡습니다."""
    return images_uint8.float().div_(255)


# %%
if __name__ == "__main__":
    section("8. 탐지기: TinyYOLO")
    model = TinyYOLO().to(run.device)
    with torch.no_grad():   # eval 모드로 모양만 확인 (학습 모드로 돌리면 배치 정규화 통계가 바뀜)
        shape = tuple(model.eval()(preprocess(train.images[:2]).to(run.device)).shape)
    print(f"  TinyYOLO: 파라미터 {count_parameters(model):,}개, 격자 {IMG_SIZE // STRIDE}×{IMG_SIZE // STRIDE} "
          f"(스트라이드 {STRIDE}), 출력 모양 {shape} = (배치, 5 + 클래스 {len(SHAPE_CLASSES)}, 격자, 격자)")

# %% [markdown]
# ## 9. 정답 인코딩과 출력 디코딩
# - **인코딩**(학습용): 정답 박스 → 칸별 목표. 칸 중심이 박스의 가운데 부분(중심에서 변 길이의 30% 이내, 작은
#   물체는 최소 0.75칸)에 있으면 그 칸이 물체를 맡습니다(양성, 중심 샘플링). 가장자리 칸은 물체를 일부만 봐서
#   박스를 맞히기 어렵기 때문입니다. 한 칸이 두 물체에 걸리면 더 작은 물체를 맡깁니다.
# - **디코딩**(추론용): 칸 중심 ± 거리 → xyxy 박스, 점수 = 시그모이드(객체성) × 클래스 확률, 그리고 3절의 NMS.
#   mAP를 잴 때는 점수 기준을 0.001로 아주 낮게 둡니다: 낮은 점수의 박스도 PR 곡선의 뒷부분(높은 재현율)을 만듭니다.

# %%
def grid_centres(height: int, width: int, stride: int = STRIDE) -> torch.Tensor:
    """격자 칸 중심의 픽셀 좌표 (H*W, 2), 행 우선 순서."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([xs, ys], -1).reshape(-1, 2).float().add_(0.5).mul_(stride)


def encode_targets(boxes: torch.Tensor, labels: torch.Tensor, grid: int = IMG_SIZE // STRIDE,
                   centre_fraction: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,G,4) 정답 → 칸별 목표: 클래스 (N,H*W) (-1 = 배경), 정답 박스 (N,H*W,4)."""
    centres = grid_centres(grid, grid)                           # (P,2)
    cx, cy = centres[None, :, None, 0], centres[None, :, None, 1]  # (1,P,1)
    x0, y0, x1, y1 = (boxes[:, None, :, k] for k in range(4))     # (N,1,G)
    inside = (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1)
    reach_x = ((x1 - x0) * centre_fraction).clamp(min=0.75 * STRIDE)
    reach_y = ((y1 - y0) * centre_fraction).clamp(min=0.75 * STRIDE)
    near = ((cx - (x0 + x1) / 2).abs() <= reach_x) & ((cy - (y0 + y1) / 2).abs() <= reach_y)
    valid = (labels >= 0)[:, None, :]
    area = box_area(boxes)[:, None, :].expand(-1, centres.shape[0], -1)
    cost = torch.where(inside & near & valid, area, torch.full_like(area, float("inf")))
    best_cost, best = cost.min(dim=2)                            # (N,P) 가장 작은 물체
    cls_target = torch.where(best_cost.isfinite(), labels.gather(1, best), torch.full_like(best, -1))
    box_target = boxes.gather(1, best[..., None].expand(-1, -1, 4))
    return cls_target, box_target


def split_outputs(raw: torch.Tensor):
    """모델 출력 (N,5+C,H,W) → 객체성 로짓 (N,P), 박스 (N,P,4) xyxy 픽셀, 클래스 로짓 (N,P,C)."""
    n, _, h, w = raw.shape
    flat = raw.flatten(2).transpose(1, 2)                        # (N,P,5+C)
    ltrb = torch.exp(flat[..., 1:5].clamp(max=8.0)) * STRIDE     # 거리는 양수여야 하므로 exp
    centres = grid_centres(h, w).to(raw.device)
    boxes = torch.cat([centres - ltrb[..., :2], centres + ltrb[..., 2:]], dim=-1)   # 칸 중심 ± 거리
    return flat[..., 0], boxes, flat[..., 5:]


@torch.no_grad()
def decode_predictions(raw: torch.Tensor, score_threshold: float = 0.001, iou_threshold: float = 0.5,
                       max_dets: int = 100) -> list[dict]:
    """격자 출력 → 이미지마다 NMS를 거친 탐지 결과. 점수 = 객체성 × 클래스 확률."""
    obj, boxes, cls_logits = split_outputs(raw.float())
    cls_prob, cls = torch.softmax(cls_logits, -1).max(-1)
    scores = torch.sigmoid(obj) * cls_prob
    side = raw.shape[-1] * STRIDE
    results = []
    for b, s, c in zip(boxes, scores, cls):
        keep = s > score_threshold                                # 먼저 확실한 배경 칸을 버려 NMS를 가볍게
        b, s, c = b[keep].clamp(0, side), s[keep], c[keep]
        kept = batched_nms(b, s, c, iou_threshold)[:max_dets]
        results.append({"boxes": b[kept], "scores": s[kept], "labels": c[kept]})
    return results


@torch.no_grad()
def predict_dataset(model, images: torch.Tensor, device, batch_size: int = 100, **decode_kw) -> list[dict]:
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        raw = model(preprocess(images[i:i + batch_size]).to(device)).cpu()
        out.extend(decode_predictions(raw, **decode_kw))
    return out


# %%
if __name__ == "__main__":
    section("9. 정답 인코딩과 출력 디코딩")
    cls_t, _ = encode_targets(train.boxes[:100], train.labels[:100])
    n_pos, n_obj = int((cls_t >= 0).sum()), int((train.labels[:100] >= 0).sum())
    print(f"  학습 이미지 100장: 칸 {cls_t.numel():,}개 중 물체를 맡은 칸 {n_pos}개 "
          f"(물체 {n_obj}개, 물체당 평균 {n_pos / n_obj:.1f}칸) — 나머지는 배경")

# %% [markdown]
# ## 10. 손실 함수: 박스(IoU) + 객체성(BCE) + 클래스(교차 엔트로피)
# $$L = \frac{1}{N_{pos}}\Big(5\sum_{pos}(1-\mathrm{IoU}) + \sum_{all}\mathrm{BCE}(o, \hat o) + \sum_{pos}\mathrm{CE}(c, \hat c)\Big)$$
# - 박스: 물체를 맡은 칸만 `1 - IoU(예측, 정답)`. 좌표 차이 대신 IoU를 쓰면 큰 박스·작은 박스가 공평합니다.
# - 객체성: 모든 칸에 BCE. 양성 칸의 목표는 1이 아니라 '지금 예측 박스의 IoU' → 점수가 박스의 품질을 반영해,
#   NMS가 더 정확한 박스를 남기고 mAP@[.5:.95] 가 오릅니다.
# - 클래스: 양성 칸만 교차 엔트로피 (배경 칸은 클래스를 배울 필요가 없음).
# 양성 칸 수로 나눠, 이미지마다 물체 수가 달라도 손실의 크기가 비슷하게 합니다.

# %%
def detection_loss(raw: torch.Tensor, cls_target: torch.Tensor, box_target: torch.Tensor) -> dict:
    obj_logit, pred_boxes, cls_logits = split_outputs(raw)
    pos = cls_target >= 0
    n_pos = max(int(pos.sum()), 1)
    iou = paired_iou(pred_boxes[pos], box_target[pos])
    obj_target = torch.zeros_like(obj_logit)
    obj_target[pos] = iou.detach().clamp(min=0)
    box_loss = (1 - iou).sum() / n_pos
    obj_loss = F.binary_cross_entropy_with_logits(obj_logit, obj_target, reduction="sum") / n_pos
    cls_loss = F.cross_entropy(cls_logits[pos], cls_target[pos], reduction="sum") / n_pos
    total = BOX_LOSS_WEIGHT * box_loss + obj_loss + cls_loss
    return {"total": total, "box": box_loss.detach(), "obj": obj_loss.detach(), "cls": cls_loss.detach()}


# %%
if __name__ == "__main__":
    section("10. 손실 함수")
    with torch.no_grad():
        cls_t, box_t = encode_targets(train.boxes[:8], train.labels[:8])
        start = detection_loss(model.eval()(preprocess(train.images[:8]).to(run.device)).cpu(), cls_t, box_t)
    print(f"  학습 전 손실 (이미지 8장): {start['total']:.3f} = {BOX_LOSS_WEIGHT:g} × 박스 {start['box']:.3f}"
          f" + 객체성 {start['obj']:.3f} + 클래스 {start['cls']:.3f}")

# %% [markdown]
# ## 11. 학습: 증강과 탐지 학습 단계
# 데이터 증강(data augmentation): 좌우 뒤집기(정답 격자와 박스도 같이 뒤집음)와 RGB 채널 섞기 — 클래스는 모양으로
# 정해지므로 색을 바꿔도 정답이 그대로입니다. 배치가 (입력, 레이블)이 아니라 (입력, 칸별 클래스, 칸별 박스)라서
# 학습 단계(`train_step`)를 직접 쓰고, 에폭 반복·검증 mAP 기록·체크포인트·`--resume` 은 공용 `fit` 이 맡습니다.
# 옵티마이저는 AdamW, 학습률은 원사이클(처음 15% 워밍업 후 코사인 감소), 그래디언트 클리핑 10.

# %%
def augment(x: torch.Tensor, cls_t: torch.Tensor, box_t: torch.Tensor, gen: torch.Generator):
    """좌우 뒤집기(격자도 같이 뒤집고 박스의 x 좌표를 거울상으로)와 RGB 채널 섞기."""
    n, grid = x.shape[0], IMG_SIZE // STRIDE
    flip = torch.rand(n, generator=gen) < 0.5
    x[flip] = x[flip].flip(-1)
    cls_g, box_g = cls_t.view(n, grid, grid), box_t.view(n, grid, grid, 4)
    cls_g[flip] = cls_g[flip].flip(-1)
    flipped = box_g[flip].flip(-2)
    box_g[flip] = torch.stack([IMG_SIZE - flipped[..., 2], flipped[..., 1],
                               IMG_SIZE - flipped[..., 0], flipped[..., 3]], -1)
    perm = torch.randperm(3, generator=gen)
    return x[:, perm], cls_t, box_t


class AugmentedBatches(TensorBatches):
    """에폭마다 섞고(TensorBatches), 배치마다 같은 난수 생성기로 증강합니다.

    섞기와 증강이 난수 생성기 하나를 쓰므로, fit 이 그 상태를 체크포인트에 넣으면 --resume 뒤에도 같은 배치가 나옵니다.
    """

    def __init__(self, images, cls_t, box_t, batch_size: int, seed: int):
        super().__init__(images, torch.arange(len(images)), batch_size, shuffle=True, seed=seed)
        self.cls_t, self.box_t = cls_t, box_t

    def __iter__(self):
        for images, idx in super().__iter__():
            yield augment(preprocess(images), self.cls_t[idx].clone(), self.box_t[idx].clone(), self.generator)


def train_detector(model, train: ShapesData, val: ShapesData, args, run) -> dict:
    device = run.device
    batches = AugmentedBatches(train.images, *encode_targets(train.boxes, train.labels), args.batch_size, args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.epochs * len(batches),
                                                    pct_start=0.15)

    def train_step(batch) -> dict:
        x, cls_t, box_t = batch
        model.train()
        losses = detection_loss(model(x.to(device)), cls_t.to(device), box_t.to(device))
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()
        return {"loss": losses["total"].detach(), "box": losses["box"], "obj": losses["obj"], "cls": losses["cls"]}

    def validate(model) -> dict:
        result = mean_average_precision(predict_dataset(model, val.images, device), val.targets())
        return {"map50": result["map50"], "map50_95": result["map50_95"]}

    return fit(model, batches, None, None, optimizer, device, args.epochs, scheduler=scheduler,
               train_step=train_step, evaluate_fn=validate, run=run, resume=args.resume,
               checkpoint_extra={"num_classes": model.num_classes, "class_names": SHAPE_CLASSES, "img_size": IMG_SIZE},
               labels={"train_loss": "손실", "train_box": "박스", "train_obj": "객체성", "train_cls": "클래스",
                       "val_map50": "검증 mAP@0.5", "val_map50_95": "mAP@[.5:.95]"})


def plot_training(history: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(5.5, 3.8))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    for key, name in [("box", "박스 (1-IoU)"), ("obj", "객체성 (BCE)"), ("cls", "클래스 (교차 엔트로피)")]:
        axes[0, 0].plot(epochs, history[f"train_{key}"], "-o", ms=3, label=name)
    axes[0, 0].set_title("손실 항목별 변화 (학습)")
    axes[0, 0].set_ylabel("손실")
    axes[0, 1].plot(epochs, history["val_map50"], "-o", ms=3, label="mAP@0.5")
    axes[0, 1].plot(epochs, history["val_map50_95"], "-s", ms=3, label="mAP@[.5:.95]")
    axes[0, 1].set_title("검증 세트 mAP")
    axes[0, 1].set_ylim(0, 1)
    for ax in axes[0]:
        ax.set_xlabel("에폭")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("11. 학습")
    if args.quick:     # 한 에폭뿐이라 작은 배치로 갱신 횟수를 늘려야 무언가를 배웁니다
        args.epochs, args.batch_size = 1, min(args.batch_size, 8)
    print(f"  {args.epochs}에폭, 배치 {args.batch_size}, 학습률 최대 {args.lr:g}")
    with cpu_threads(args.threads):
        history = train_detector(model, train, val, args, run)
    plot_training(history, run.path("training_curves.png"))

# %% [markdown]
# ## 12. 테스트 세트 평가: 직접 만든 NMS·mAP로
# 학습에 한 번도 쓰지 않은 테스트 이미지로 mAP를 잽니다. 왼쪽 그림은 IoU 0.5에서 클래스마다의 PR 곡선입니다 —
# 오른쪽 끝까지 높게 유지될수록 '다 찾으면서도 틀린 박스가 적은' 탐지기입니다. 이 쉬운 도형 데이터에서는 IoU 0.5로는
# 거의 직사각형이라 배울 것이 적으므로, 오른쪽 그림은 가장 어려운 클래스(AP@[.5:.95] 가 가장 낮은)를 IoU 기준 0.5 · 0.75 ·
# 0.9 에서 겹쳐 그립니다. 기준이 엄격해질수록 '맞힌' 박스가 줄어 같은 재현율에서 정밀도가 떨어지고, 곡선이 더 일찍
# 꺾입니다 — 박스를 '대충' 맞히기는 쉽고 '정확히' 맞히기는 어렵다는 것이 mAP@0.5 와 mAP@[.5:.95] 의 차이입니다.

# %%
PR_IOU_SHOWN = (0.5, 0.75, 0.9)


def plot_pr_curves(result: dict, path: Path) -> Path:
    fig, axes = new_figure(ncols=2, size=(5.5, 4.5))
    for c, precision in result["pr_curve"].items():
        axes[0, 0].plot(COCO_RECALL_POINTS, precision[0],
                        label=f"{SHAPE_CLASSES[c]} (AP50 {result['ap50_per_class'][c]:.3f})")
    axes[0, 0].set_title(f"클래스별, IoU 0.5 (mAP@0.5 = {result['map50']:.3f})")
    hardest = min(result["ap_per_class"], key=result["ap_per_class"].get)
    for iou in PR_IOU_SHOWN:
        t = int(np.argmin(np.abs(COCO_IOU_THRESHOLDS - iou)))
        precision = result["pr_curve"][hardest][t]
        axes[0, 1].plot(COCO_RECALL_POINTS, precision, label=f"IoU {iou} (AP {precision.mean():.3f})")
    axes[0, 1].set_title(f"가장 어려운 클래스 '{SHAPE_CLASSES[hardest]}', IoU 기준별")
    for ax in axes[0]:
        ax.set_xlabel("재현율 (recall)")
        ax.set_ylabel("정밀도 (precision, 보간)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle("테스트 세트 정밀도-재현율 곡선")
    return save_figure(fig, path)


# %%
if __name__ == "__main__":
    section("12. 테스트 세트 평가")
    preds = predict_dataset(model, test.images, run.device)
    result = mean_average_precision(preds, test.targets())
    print(f"  테스트 세트 ({n_test}장): mAP@0.5 = {result['map50']:.4f}, mAP@[.5:.95] = {result['map50_95']:.4f}")
    for c, ap in result["ap_per_class"].items():
        print(f"    {SHAPE_CLASSES[c]:<4} AP@0.5 {result['ap50_per_class'][c]:.3f}  AP@[.5:.95] {ap:.3f}")
    plot_pr_curves(result, run.path("pr_curve.png"))
    plot_detections_grid(test.images[:9], preds[:9], SHAPE_CLASSES, run.path("test_detections.png"),
                         "테스트 이미지 탐지 결과 (점수 0.3 이상, NMS 후)", score_threshold=0.3)

# %% [markdown]
# ## 13. 실시간 추론 속도(FPS)와 결과 기록
# 카메라 프레임 하나(배치 1)를 전처리 → 모델 → 디코딩 → NMS 까지 처리하는 데 걸리는 시간으로 초당 프레임 수를 잽니다.
# 처음 몇 번은 메모리 할당 등으로 느리므로 10번 워밍업한 뒤 잽니다. 입력이 320×320이면 칸이 6.25배라 느려집니다.

# %%
@torch.no_grad()
def detect_frame(model, frame_rgb: np.ndarray, device, score_threshold: float = 0.3,
                 img_size: int = IMG_SIZE) -> dict:
    """프레임 하나(H,W,3 uint8) → 원본 좌표의 탐지 결과. 모델 입력 크기로 줄였다가 박스를 원래 크기로 되돌립니다."""
    h, w = frame_rgb.shape[:2]
    x = preprocess(torch.from_numpy(frame_rgb).permute(2, 0, 1)[None])
    if (h, w) != (img_size, img_size):
        x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
    det = decode_predictions(model(x.to(device)).cpu(), score_threshold=score_threshold)[0]
    det["boxes"] = det["boxes"] * torch.tensor([w / img_size, h / img_size] * 2)
    return det


def measure_fps(model, frame_rgb: np.ndarray, device, img_size: int, seconds: float = 3.0) -> float:
    model.eval()
    for _ in range(10):
        detect_frame(model, frame_rgb, device, img_size=img_size)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        detect_frame(model, frame_rgb, device, img_size=img_size)
        count += 1
    return count / (time.perf_counter() - t0)


# %%
if __name__ == "__main__":
    section("13. 실시간 추론 속도(FPS)와 결과 기록")
    frame = test.images[0].permute(1, 2, 0).numpy().copy()
    big = F.interpolate(test.images[:1].float(), size=320, mode="bilinear").round().byte()[0]
    fps128 = measure_fps(model, frame, run.device, IMG_SIZE, seconds=0.5 if args.quick else 3.0)
    fps320 = measure_fps(model, big.permute(1, 2, 0).numpy().copy(), run.device, 320,
                         seconds=0.5 if args.quick else 3.0)
    print(f"  FPS (배치 1, end-to-end, {run.device}): 128×128 {fps128:.1f}, 320×320 {fps320:.1f}"
          + ("" if run.device.type == "cpu" else "  (fps_cpu 는 이름과 달리 이번 장치에서 잰 값)"))
    run.write_metrics(dataset="생성 도형 탐지 데이터 (128×128, 4클래스) + coco128", data_source=data_source,
                      epochs=args.epochs, n_train=n_train, n_test=n_test,
                      metrics={"map50": round(result["map50"], 4), "map50_95": round(result["map50_95"], 4),
                               "fps_cpu": round(fps128, 1), "fps_cpu_320": round(fps320, 1),
                               "ap50_per_class": {SHAPE_CLASSES[c]: round(v, 4)
                                                  for c, v in result["ap50_per_class"].items()},
                               "final_train_loss": round(history["train_loss"][-1], 4),
                               "coco128_boxes": None if coco is None else int(len(coco.all_labels)),
                               "coco_pretrained_map50": pretrained and round(pretrained["map50"], 4),
                               "coco_pretrained_map50_95": pretrained and round(pretrained["map50_95"], 4)})

# %% [markdown]
# ## 14. 내 사진·영상으로 탐지하기 (`--image`, `--video`, `--camera`)
# 저장된 체크포인트(전체 학습의 것)로 사진·영상을 탐지합니다. 모델 입력 크기(128×128)로 줄여 탐지한 뒤 박스를 원래
# 크기로 되돌려 그립니다. 영상·웹캠의 프레임 읽기와 창·영상 파일 쓰기는 `utils/video.py` 가 맡습니다
# (화면 창은 GUI가 있는 `opencv-python` 에서만; 없으면 박스를 그린 영상 파일을 저장).
# 스크립트에서는 `python 06_yolo_object_detection.py --image 사진.jpg` 로 이 절만 실행됩니다.

# %%
def trained_frame_detector(run, checkpoint: Path | None = None):
    """체크포인트(기본: 전체 학습의 것)의 탐지기로 '프레임 하나 → 탐지 결과' 함수를 만듭니다 (사진·영상 공용)."""
    path = Path(checkpoint or run.out.parent / LESSON / "checkpoint.pt")
    if not path.is_file():
        raise CourseError(f"학습된 탐지기가 없습니다: {path}\n       먼저 'python {LESSON}.py' 로 학습하세요.")
    state = load_checkpoint(path, map_location=run.device)
    model = TinyYOLO(state["num_classes"]).to(run.device)
    model.load_state_dict(state["model"])
    return partial(detect_frame, model.eval(), device=run.device)


def detect_images(args, run, items: list[str] | None = None, checkpoint: Path | None = None) -> list[dict]:
    """--image: 사진마다 탐지해 박스를 그린 그림을 run/predictions/ 에 저장합니다 (읽기·그리기는 utils.video)."""
    only_one(args, ("image", "video", "camera"))
    return detect_image_files(items or args.image, partial(trained_frame_detector, run, checkpoint), SHAPE_CLASSES,
                              run.path("predictions"))


def detect_video(args, run):
    """--video / --camera: 프레임마다 탐지해 박스와 FPS를 그립니다 (창 또는 영상 파일; 입출력은 utils.video)."""
    only_one(args, ("image", "video", "camera"))
    source = args.video if args.video is not None else int(args.camera)
    return stream_detections(source, partial(trained_frame_detector, run), SHAPE_CLASSES, run.path("detections.mp4"),
                             args.max_frames)


# %%
if __name__ == "__main__":
    section("14. 내 사진으로 탐지하기")
    sample = run.path("내 사진.png")   # 테스트 이미지 한 장을 PNG 파일로 저장해 '내 사진'처럼 넣어 봅니다
    Image.fromarray(frame).save(sample)
    detect_images(args, run, [str(sample)], checkpoint=run.checkpoint_path)
    print(f"  (정답: {', '.join(SHAPE_CLASSES[c] for c in test.targets()[0]['labels'].tolist())})")

# %% [markdown]
# ## 해 보세요
# 기본 실행(약 6분)으로 만든 모델과 생성 데이터로, 절 하나의 인자만 바꿔 다시 재 봅니다 (학습 없이 몇 분 안). 아래 숫자는 이 과정을 만든
# 2코어 CPU(AMD EPYC)에서 잰 값이고, 명령·출력·걸린 시간은 `docs/notes/06_yolo_object_detection.md` 에 있습니다.
# 기본 실행의 테스트 세트 mAP@0.5 0.9707, mAP@[.5:.95] 0.8185 와 비교하세요.
#
# 1. **중심 샘플링의 범위** (9절): 9절 실행 셀의 `encode_targets(train.boxes[:100], train.labels[:100])` 에
#    `centre_fraction=0.5` 를 넣어 보세요. 학습 이미지 100장의 물체 353개에서 양성 칸이 2,367개 →
#    5,518개, 물체당 6.7칸 → 15.6칸으로 2.3배가 됩니다. 늘어난 칸은 물체의 가장자리 쪽이라 물체를 일부만 보고 박스를 맞혀야 합니다.
# 2. **NMS 기준** (12절): 기본 실행의 모델로 12절 아래에 셀을 만들어 `predict_dataset(model, test.images, run.device, iou_threshold=0.3)`
#    (그리고 0.8)의 `mean_average_precision` 을 재 보세요. 테스트 이미지 600장(물체 2,085개)에서
#    기준 0.3 → mAP@0.5 0.9662, 0.5(기본) → 0.9707, 0.8 → 0.9580 입니다. 점수 0.3 이상으로 남는 바운딩 박스는 2,107 / 2,252 / 3,053개로,
#    0.8 에서는 여러 물체에 박스가 둘씩 남아 물체 수보다 1,000개 가까이 많습니다.
# 3. **mAP를 잴 때의 점수 기준** (12절): 같은 셀에서 `predict_dataset(…, score_threshold=0.3)` 으로 재면
#    mAP@0.5 0.9707 → 0.9607, mAP@[.5:.95] 0.8185 → 0.8139 로 내려갑니다. 점수 0.3 아래의 박스를 버리면 PR 곡선의 높은 재현율 쪽이
#    잘려 나가므로, mAP를 잴 때는 기준을 0.001 로 아주 낮게 둡니다 (그림에 그릴 때만 0.3).
#
# **질문**
#
# <details><summary>1. NMS 기준을 0.3이나 0.8로 바꾸면 겹친 도형에서 무엇이 달라질까요?</summary>
#
# 0.3이면 가까이 붙은 두 도형 중 하나가 지워질 수 있고(재현율↓), 0.8이면 한 물체에 박스가 둘 남기 쉽습니다(정밀도↓).
# 이 데이터는 정답 박스끼리 IoU ≤ 0.3 으로 만들었으므로, 기준 0.5에서는 서로 다른 도형을 정확히 맞힌 두 바운딩 박스가
# 서로를 지우지 않습니다. 실험 2에서 0.8 의 mAP@0.5 가 0.9580 으로 가장 많이 내려간 것은 같은 물체에
# 남은 두 번째 박스가 모두 오탐(false positive)으로 세어지기 때문입니다.
# </details>
#
# <details><summary>2. 10절에서 양성 칸의 객체성 목표를 1이 아니라 '지금 예측 박스의 IoU'로 두는 이유는?</summary>
#
# 점수 = 객체성 × 클래스 확률이므로, 객체성이 박스의 품질을 따라가면 한 물체 위의 후보들 가운데 더 정확한 박스가 더 높은 점수를
# 받습니다. NMS는 점수가 가장 높은 박스를 남기므로 정확한 박스가 살아남고, IoU 기준이 엄격한 mAP@[.5:.95] 가 오릅니다.
# 목표가 1이면 대충 맞힌 박스도 같은 점수를 받아 NMS가 덜 정확한 박스를 남길 수 있습니다.
# </details>
