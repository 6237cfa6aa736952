"""레슨 06 — YOLO 객체 탐지(object detection): 바운딩 박스, IoU, NMS, mAP, 직접 만든 YOLO식 탐지기

학습 목표
    1. 바운딩 박스(bounding box)의 세 가지 표기(xyxy, xywh, YOLO 라벨의 정규화된 cx-cy-w-h)를 서로 바꿉니다.
    2. IoU, 비최대 억제(NMS), 평균 정밀도(AP)와 mAP(mean Average Precision, 클래스별 AP의 평균)를
       직접 구현합니다. 테스트가 torchvision·pycocotools(COCO 공식 평가)와 결과가 같음을 확인합니다.
    3. 격자 칸마다 '물체가 있는가(objectness)·상자·클래스'를 예측하는 앵커 없는(anchor-free) YOLO식
       탐지기를 처음부터 학습하고, 손실 함수(loss function)를 항목별로 이해합니다.
    4. 실제 사진(COCO 표본 coco128)의 정답 상자와 클래스 통계를 보고, CPU에서 초당 프레임 수(FPS)를 잽니다.

데이터셋
    - 생성 도형 탐지 데이터(다운로드 없음): 128×128 RGB, 도형 4종(원·사각형·삼각형·십자; 클래스는 색이
      아니라 '모양'으로 정해지고 색은 물체마다 무작위), 변 12~56 px, 이미지마다 1~6개(서로 IoU ≤ 0.3),
      무늬·잡음이 있는 배경. 학습 6,000장(시드 S), 검증 300장(시드 S+1), 시험 600장(시드 S+2, 다른 시드).
    - coco128: COCO train2017의 처음 128장 (YOLO 라벨 + COCO json), DL_DATA_DIR/coco128/.
      없으면 한국어 안내 후 coco128 부분만 건너뜁니다 (data_source "fallback").

핵심 개념
    바운딩 박스 · IoU · 비최대 억제(NMS) · 평균 정밀도(AP) · mAP@0.5 · mAP@[.5:.95] (COCO 101점 보간)
    · 격자(grid)와 스트라이드(stride) · 중심 샘플링 · IoU 손실 · 객체성(objectness) · 실시간 추론과 FPS

실행 방법
    python 06_yolo_object_detection.py                    # 전체: 데이터 생성 → 학습 → mAP → FPS → 그림
    python 06_yolo_object_detection.py --quick            # 몇 초짜리 흐름 확인
    python 06_yolo_object_detection.py --image 사진.jpg    # 학습된 탐지기로 사진(또는 폴더) 탐지
    python 06_yolo_object_detection.py --video 영상.mp4    # 영상 탐지 → 상자와 FPS를 그린 영상 파일
    python 06_yolo_object_detection.py --camera 0         # 웹캠 (창은 GUI 있는 opencv-python 에서만)

예상 시간 (측정값, 2코어 CPU, 다른 작업과 CPU 공유)
    전체 실행 약 12분 (학습 약 10분), --quick 약 5초. GPU에서는 1분 안팎.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.data_utils import collect_image_paths, locate_dataset, read_image, resolve_data_dir
from utils.model_utils import (CourseError, count_parameters, lesson_main, load_checkpoint, make_parser,
                               positive_int, save_checkpoint, start_run)

LESSON = "06_yolo_object_detection"
IMG_SIZE = 128          # 생성 데이터와 탐지기의 입력 크기
STRIDE = 8              # 특성 맵(feature map) 한 칸 = 입력 8×8 픽셀 → 128/8 = 16×16 격자
SHAPE_CLASSES = ["원", "사각형", "삼각형", "십자"]
MIN_SIDE, MAX_SIDE, MAX_OBJECTS, MAX_PAIR_IOU = 12, 56, 6, 0.3
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)   # mAP@[.5:.95] 의 IoU 기준 10개
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)    # COCO 101점 보간의 재현율 지점
COCO_KO = ["사람", "자전거", "자동차", "오토바이", "비행기", "버스", "기차", "트럭", "보트", "신호등",
           "소화전", "정지 표지판", "주차 미터기", "벤치", "새", "고양이", "개", "말", "양", "소",
           "코끼리", "곰", "얼룩말", "기린", "배낭", "우산", "핸드백", "넥타이", "여행 가방", "프리스비",
           "스키", "스노보드", "공", "연", "야구 방망이", "야구 글러브", "스케이트보드", "서핑보드", "테니스 라켓", "병",
           "와인 잔", "컵", "포크", "나이프", "숟가락", "그릇", "바나나", "사과", "샌드위치", "오렌지",
           "브로콜리", "당근", "핫도그", "피자", "도넛", "케이크", "의자", "소파", "화분", "침대",
           "식탁", "변기", "TV", "노트북", "마우스", "리모컨", "키보드", "휴대폰", "전자레인지", "오븐",
           "토스터", "싱크대", "냉장고", "책", "시계", "꽃병", "가위", "곰 인형", "헤어드라이어", "칫솔"]
COCO128_URL = "https://github.com/ultralytics/assets/releases/download/v0.0.0/coco128.zip"
PRETRAINED_NAME = "ssdlite320_mobilenet_v3_large"
BOX_LOSS_WEIGHT = 5.0   # 상자 손실의 가중치: 1-IoU 는 0~1 로 작아서 객체성·클래스 손실과 균형을 맞춥니다


# ---------------------------------------------------------------------------
# 1. 바운딩 박스 표기와 변환
# ---------------------------------------------------------------------------
# xyxy: (왼쪽, 위, 오른쪽, 아래) 픽셀 — IoU·NMS 계산이 가장 쉬운 표기 (torchvision이 쓰는 표기)
# xywh: (왼쪽, 위, 너비, 높이) 픽셀 — COCO json 의 'bbox'
# cxcywh: (중심 x, 중심 y, 너비, 높이) — YOLO 라벨 파일은 이것을 이미지 크기로 나눈 0~1 값
def xyxy_to_xywh(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2], b[..., 2:] - b[..., :2]], dim=-1)


def xywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2], b[..., :2] + b[..., 2:]], dim=-1)


def xyxy_to_cxcywh(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], dim=-1)


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], dim=-1)


def yolo_to_xyxy(b: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """YOLO 라벨(정규화 cx,cy,w,h) → 픽셀 xyxy. 같은 라벨이 어떤 해상도의 이미지에도 맞는 이유입니다."""
    scale = torch.tensor([width, height, width, height], dtype=b.dtype)
    return cxcywh_to_xyxy(b * scale)


def xyxy_to_yolo(b: torch.Tensor, width: int, height: int) -> torch.Tensor:
    scale = torch.tensor([width, height, width, height], dtype=b.dtype)
    return xyxy_to_cxcywh(b) / scale


# ---------------------------------------------------------------------------
# 2. IoU (Intersection over Union): 두 상자가 얼마나 겹치는가 (0~1)
# ---------------------------------------------------------------------------
def box_area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def box_intersection(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,4)×(M,4) → (N,M) 교집합 넓이. 브로드캐스팅으로 모든 쌍을 한 번에 계산합니다."""
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)   # 겹치지 않으면 너비·높이가 음수 → 0
    return wh[..., 0] * wh[..., 1]


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """쌍별 IoU 행렬 (N,M) = 교집합 / 합집합. 합집합 = 넓이A + 넓이B - 교집합."""
    inter = box_intersection(a, b)
    return inter / (box_area(a)[:, None] + box_area(b)[None, :] - inter)


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """같은 위치끼리의 IoU (N,4),(N,4) → (N,). 손실 함수에서 예측 상자와 그 정답 상자를 비교할 때 씁니다."""
    wh = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (box_area(a) + box_area(b) - inter).clamp(min=1e-9)


# ---------------------------------------------------------------------------
# 3. 비최대 억제(NMS): 같은 물체에 겹쳐 나온 상자 중 점수가 가장 높은 것만 남기기
# ---------------------------------------------------------------------------
def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """탐욕적(greedy) NMS. 점수가 높은 상자부터 남기고, 그 상자와 IoU > 기준인 상자를 지웁니다.

    점수가 같으면 앞 번호가 먼저입니다(안정 정렬). 돌려주는 값: 남긴 상자의 번호, 점수 내림차순.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    # 기준값과의 비교는 float64로 (float32로 바꾼 0.3 은 0.3보다 조금 커서, 경계의 상자 판정이 달라짐)
    overlaps = (box_iou(boxes[order], boxes[order]).double() > iou_threshold).numpy()
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]   # 방금 남긴 상자와 많이 겹치는 나머지를 모두 지움
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """클래스별 NMS: 다른 클래스의 상자끼리는 지우지 않습니다 (겹쳐 있는 사람과 자전거처럼)."""
    kept = [torch.nonzero(labels == c).flatten()[nms(boxes[labels == c], scores[labels == c], iou_threshold)]
            for c in torch.unique(labels)]
    keep = torch.sort(torch.cat(kept)).values if kept else torch.zeros(0, dtype=torch.long)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


# ---------------------------------------------------------------------------
# 4. mAP: COCO 방식 (IoU 기준 0.5~0.95, 재현율 101점 보간)
# ---------------------------------------------------------------------------
# 예측·정답은 이미지마다 dict: {"boxes": (K,4) xyxy, "labels": (K,), "scores": (K,)} (정답엔 scores 대신
# 선택적으로 "iscrowd"). 군중(crowd) 상자는 '세지 않는 정답': 맞혀도 TP가 아니고, 거기 걸린 예측은 FP도 아님.
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
    """COCO 방식 mAP. 돌려주는 값: map50, map50_95, 클래스별 AP, PR 곡선용 (recall, precision@0.5)."""
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
    ap = {}
    pr_curve = {}
    for c, acc in sorted(per_class.items()):
        if acc["n_gt"] == 0:      # 정답이 없는 클래스는 평균에서 뺍니다 (COCO와 같음)
            continue
        order = np.argsort(-np.concatenate(acc["scores"]), kind="mergesort")
        tp = np.concatenate(acc["tp"], axis=1)[:, order]
        ign = np.concatenate(acc["ignored"], axis=1)[:, order]
        precision = interpolated_precision(tp, ign, acc["n_gt"])
        ap[c] = precision.mean(axis=1)          # (T,) IoU 기준별 AP
        pr_curve[c] = precision[0]
    if not ap:
        return {"map50": -1.0, "map50_95": -1.0, "ap50_per_class": {}, "ap_per_class": {}, "pr_curve": {}}
    table = np.stack(list(ap.values()))          # (클래스, T)
    return {"map50": float(table[:, 0].mean()), "map50_95": float(table.mean()),
            "ap50_per_class": {c: float(v[0]) for c, v in ap.items()},
            "ap_per_class": {c: float(v.mean()) for c, v in ap.items()}, "pr_curve": pr_curve}


# ---------------------------------------------------------------------------
# 5. coco128: YOLO 라벨 파일 읽기 (실제 사진)
# ---------------------------------------------------------------------------
def coco128_dir(root: Path) -> Path:
    return Path(root) / "coco128"


def coco128_expected(root: Path) -> list[str]:
    d = coco128_dir(root)
    return [str(d / "images" / "train2017" / "*.jpg"), str(d / "labels" / "train2017" / "*.txt"),
            str(d / "classes.txt")]


def coco128_present(root: Path) -> bool:
    d = coco128_dir(root)
    return (d / "labels" / "train2017").is_dir() and any((d / "images" / "train2017").glob("*.jpg"))


def parse_yolo_label_file(path: Path, num_classes: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    """'class cx cy w h' 줄들 → (labels (K,), 정규화 cxcywh (K,4)). 잘못된 줄은 파일·줄 번호와 함께 알림."""
    labels, boxes = [], []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            cls, values = int(parts[0]), [float(v) for v in parts[1:]]
        except (ValueError, IndexError):
            cls, values = -1, []
        if len(values) != 4 or not 0 <= cls < num_classes or not all(0 <= v <= 1 for v in values):
            raise CourseError(f"YOLO 라벨 형식이 잘못되었습니다: {path} {line_no}번째 줄: {line.strip()!r}\n"
                              f"       한 줄에 '클래스(0~{num_classes - 1}) cx cy w h' (좌표는 0~1) 다섯 값이 필요합니다.")
        labels.append(cls)
        boxes.append(values)
    return (torch.tensor(labels, dtype=torch.long),
            torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))


@dataclass
class Coco128:
    """이미지 경로와 픽셀 xyxy 정답. images는 실제로 읽은(부분집합) 것만 들고 있습니다."""
    paths: list[Path]
    targets: list[dict]        # {"boxes": xyxy 픽셀, "labels"} — 라벨 파일이 없는 이미지 = 물체 없음
    images: list[torch.Tensor]  # uint8 (3,H,W)
    class_names: list[str]
    orphan_labels: list[str]   # 이미지가 없는 라벨 파일 (원본 coco128의 특이점)
    all_labels: torch.Tensor   # 모든 라벨 파일의 클래스 (통계용; 라벨 파일만 읽으므로 빠름)


def load_coco128(root: Path, limit: int | None = None) -> Coco128:
    """이미지와 라벨 파일을 이름으로 짝짓습니다. 이미지는 limit 장만 디코딩합니다."""
    d = coco128_dir(root)
    names_file = d / "classes.txt"
    names = names_file.read_text(encoding="utf-8").split("\n") if names_file.is_file() else []
    names = [n.strip() for n in names if n.strip()] or [str(i) for i in range(80)]
    image_paths = sorted((d / "images" / "train2017").glob("*.jpg"))
    label_dir = d / "labels" / "train2017"
    stems = {p.stem for p in image_paths}
    orphans = sorted(p.name for p in label_dir.glob("*.txt") if p.stem not in stems)
    parsed = {p.stem: parse_yolo_label_file(p, len(names)) for p in sorted(label_dir.glob("*.txt"))
              if p.stem in stems}
    chosen = image_paths[:limit] if limit else image_paths
    images, targets = [], []
    for path in chosen:
        img = torch.from_numpy(np.asarray(read_image(path, "RGB")).copy()).permute(2, 0, 1)
        labels, yolo = parsed.get(path.stem, (torch.zeros(0, dtype=torch.long), torch.zeros(0, 4)))
        images.append(img)
        targets.append({"boxes": yolo_to_xyxy(yolo, img.shape[2], img.shape[1]), "labels": labels})
    all_labels = torch.cat([lab for lab, _ in parsed.values()]) if parsed else torch.zeros(0, dtype=torch.long)
    return Coco128(chosen, targets, images, names, orphans, all_labels)


def korean_coco_names(names: list[str]) -> list[str]:
    """COCO 80 클래스의 한국어 이름 (classes.txt 가 표준 80개가 아니면 원래 이름)."""
    return list(COCO_KO) if len(names) == len(COCO_KO) else names


# ---------------------------------------------------------------------------
# 6. 생성 도형 탐지 데이터 (다운로드 없이 어디서나)
# ---------------------------------------------------------------------------
@dataclass
class ShapesData:
    images: torch.Tensor   # uint8 (N,3,128,128)
    boxes: torch.Tensor    # float (N,6,4) xyxy, 빈자리는 0
    labels: torch.Tensor   # long (N,6), 빈자리는 -1

    def targets(self) -> list[dict]:
        return [{"boxes": b[lab >= 0], "labels": lab[lab >= 0]} for b, lab in zip(self.boxes, self.labels)]


def shape_mask(cls: int, w: int, h: int) -> np.ndarray:
    """(h,w) 크기 상자를 꽉 채우는 도형의 마스크. 상자 = 도형의 경계이므로 정답 상자가 정확합니다."""
    x = np.arange(w)[None, :] + 0.5 - w / 2    # 픽셀 중심 좌표 (상자 중심 기준)
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
    """n장을 생성합니다. 같은 시드면 같은 데이터 (학습·검증·시험은 서로 다른 시드)."""
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


# ---------------------------------------------------------------------------
# 7. 탐지기: 작은 합성곱 백본 + 격자 칸마다 (객체성 1, 상자 4, 클래스 C) 예측
# ---------------------------------------------------------------------------
def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.SiLU(inplace=True))


class TinyYOLO(nn.Module):
    """입력 128×128 → 스트라이드 8의 16×16 격자. 출력 채널: [객체성, l, t, r, b, 클래스 C개].

    스트라이드 16 가지(context)를 한 번 더 내려갔다 올려 더해, 큰 물체(56 px)도 한 칸이 다 보게 합니다.
    앵커(anchor) 없이 칸 중심에서 상자 네 변까지의 거리(l,t,r,b)를 예측합니다 (FCOS·YOLOX 방식).
    """

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


# ---------------------------------------------------------------------------
# 8. 정답 인코딩(상자 → 격자 목표)과 디코딩(격자 출력 → 상자)
# ---------------------------------------------------------------------------
def grid_centres(height: int, width: int, stride: int = STRIDE) -> torch.Tensor:
    """격자 칸 중심의 픽셀 좌표 (H*W, 2), 행 우선 순서."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([xs, ys], -1).reshape(-1, 2).float().add_(0.5).mul_(stride)


def encode_targets(boxes: torch.Tensor, labels: torch.Tensor, grid: int = IMG_SIZE // STRIDE,
                   centre_fraction: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,G,4) 정답 → 칸별 목표: 클래스 (N,H*W) (-1 = 배경), 정답 상자 (N,H*W,4).

    양성(positive) 칸 = 칸 중심이 상자의 가운데 부분(중심에서 변 길이의 centre_fraction 이내, 작은
    물체는 최소 0.75칸)에 있는 칸 (중심 샘플링: 가장자리 칸은 물체를 일부만 봐서 상자를 맞히기 어려움).
    한 칸이 두 물체에 걸리면 더 작은 물체를 맡깁니다 (큰 물체는 맡은 칸이 많으므로).
    """
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
    best_cost, best = cost.min(dim=2)                            # (N,P)
    cls_target = torch.where(best_cost.isfinite(), labels.gather(1, best), torch.full_like(best, -1))
    box_target = boxes.gather(1, best[..., None].expand(-1, -1, 4))
    return cls_target, box_target


def distances_to_boxes(ltrb: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """칸 중심에서 네 변까지의 거리 → xyxy 상자."""
    return torch.cat([centres - ltrb[..., :2], centres + ltrb[..., 2:]], dim=-1)


def split_outputs(raw: torch.Tensor):
    """모델 출력 (N,5+C,H,W) → 객체성 로짓 (N,P), 상자 (N,P,4) xyxy 픽셀, 클래스 로짓 (N,P,C)."""
    n, _, h, w = raw.shape
    flat = raw.flatten(2).transpose(1, 2)                        # (N,P,5+C)
    ltrb = torch.exp(flat[..., 1:5].clamp(max=8.0)) * STRIDE     # 거리는 양수여야 하므로 exp
    boxes = distances_to_boxes(ltrb, grid_centres(h, w).to(raw.device))
    return flat[..., 0], boxes, flat[..., 5:]


@torch.no_grad()
def decode_predictions(raw: torch.Tensor, score_threshold: float = 0.001, iou_threshold: float = 0.5,
                       max_dets: int = 100) -> list[dict]:
    """격자 출력 → 이미지마다 NMS를 거친 탐지 결과. 점수 = 객체성 × 클래스 확률.

    mAP를 잴 때는 기준을 아주 낮게(0.001) 둡니다: 낮은 점수의 상자도 PR 곡선의 뒷부분(높은 재현율)을
    만들기 때문입니다. 화면에 그릴 때는 0.3 처럼 높게 둡니다.
    """
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


# ---------------------------------------------------------------------------
# 9. 손실 함수: 상자(IoU 손실) + 객체성(BCE) + 클래스(교차 엔트로피)
# ---------------------------------------------------------------------------
def detection_loss(raw: torch.Tensor, cls_target: torch.Tensor, box_target: torch.Tensor) -> dict:
    """세 항목을 양성 칸 수로 나눠 더합니다 (이미지마다 물체 수가 달라도 크기가 비슷하도록).

    - 상자: 1 - IoU(예측, 정답), 양성 칸만. 좌표 차이 대신 IoU를 줄이면 큰 상자·작은 상자가 공평합니다.
    - 객체성: 모든 칸에 BCE. 양성 칸의 목표는 1이 아니라 '지금 예측 상자의 IoU' → 점수가 상자 품질을
      반영하므로, NMS가 더 정확한 상자를 남기고 mAP@[.5:.95] 가 오릅니다.
    - 클래스: 양성 칸만 교차 엔트로피 (배경 칸은 클래스를 배울 필요가 없음).
    """
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


# ---------------------------------------------------------------------------
# 10. 학습과 평가 (탐지는 배치가 (입력, 라벨)이 아니라서 루프를 한 번 직접 씁니다)
# ---------------------------------------------------------------------------
def augment(x: torch.Tensor, cls_t: torch.Tensor, box_t: torch.Tensor, gen: torch.Generator):
    """좌우 뒤집기(격자도 같이 뒤집음)와 RGB 채널 섞기. 클래스는 모양으로 정해지므로 색을 바꿔도 됩니다."""
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


def train_epoch(model, data: ShapesData, targets, optimizer, scheduler, batch_size, device, gen) -> dict:
    model.train()
    cls_all, box_all = targets
    order = torch.randperm(len(data.images), generator=gen)
    sums = {"total": 0.0, "box": 0.0, "obj": 0.0, "cls": 0.0}
    steps = 0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        x, cls_t, box_t = augment(preprocess(data.images[idx]), cls_all[idx].clone(), box_all[idx].clone(), gen)
        losses = detection_loss(model(x.to(device)), cls_t.to(device), box_t.to(device))
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        scheduler.step()
        for k in sums:
            sums[k] += float(losses[k].detach())
        steps += 1
    return {k: v / max(steps, 1) for k, v in sums.items()}


@torch.no_grad()
def predict_dataset(model, images: torch.Tensor, device, batch_size: int = 100, **decode_kw) -> list[dict]:
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        raw = model(preprocess(images[i:i + batch_size]).to(device)).cpu()
        out.extend(decode_predictions(raw, **decode_kw))
    return out


def train_detector(model, train: ShapesData, val: ShapesData, args, run) -> dict:
    """AdamW + OneCycle(워밍업 후 코사인 감소). 에폭마다 검증 mAP와 원자적 체크포인트를 남깁니다."""
    device = run.device
    targets = encode_targets(train.boxes, train.labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps = args.epochs * math.ceil(len(train.images) / args.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    history = {"loss": [], "box": [], "obj": [], "cls": [], "val_map50": [], "val_map50_95": [], "epoch_seconds": []}
    start = 0
    gen = torch.Generator().manual_seed(args.seed)
    if args.resume and run.checkpoint_path.exists():
        state = load_checkpoint(run.checkpoint_path, map_location=device)
        if state.get("epochs") != args.epochs:
            raise CourseError(f"체크포인트는 --epochs {state.get('epochs')} 로 학습 중이었습니다. "
                              "같은 --epochs 로 이어서 학습하세요.")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start = state["history"], state["epoch"]
        gen.manual_seed(args.seed + start)
        run.previous_seconds, run.started = state["elapsed"], time.perf_counter()
        print(f"[이어서 학습] {run.checkpoint_path} 의 {start} 에폭 다음부터 계속합니다.")
    for epoch in range(start, args.epochs):
        t0 = time.perf_counter()
        tr = train_epoch(model, train, targets, optimizer, scheduler, args.batch_size, device, gen)
        val_result = mean_average_precision(predict_dataset(model, val.images, device), val.targets())
        for k in ("box", "obj", "cls"):
            history[k].append(tr[k])
        history["loss"].append(tr["total"])
        history["val_map50"].append(val_result["map50"])
        history["val_map50_95"].append(val_result["map50_95"])
        history["epoch_seconds"].append(time.perf_counter() - t0)
        print(f"  에폭 {epoch + 1:>2}/{args.epochs}  손실 {tr['total']:.3f} (상자 {tr['box']:.3f} · 객체성 "
              f"{tr['obj']:.3f} · 클래스 {tr['cls']:.3f})  검증 mAP@0.5 {val_result['map50']:.3f}  "
              f"mAP@[.5:.95] {val_result['map50_95']:.3f}  ({history['epoch_seconds'][-1]:.1f}초)")
        save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "epochs": args.epochs,
                         "history": history, "elapsed": run.elapsed(), "num_classes": model.num_classes,
                         "class_names": SHAPE_CLASSES, "img_size": IMG_SIZE}, run.checkpoint_path)
    return history


# ---------------------------------------------------------------------------
# 11. 실시간 추론: FPS 측정, 사진·영상·웹캠
# ---------------------------------------------------------------------------
@torch.no_grad()
def detect_frame(model, frame_rgb: np.ndarray, device, score_threshold: float = 0.3,
                 img_size: int = IMG_SIZE) -> dict:
    """카메라 프레임 하나(H,W,3 uint8) → 원본 좌표의 탐지 결과. 전처리·모델·디코딩·NMS 전부 포함."""
    h, w = frame_rgb.shape[:2]
    x = preprocess(torch.from_numpy(frame_rgb).permute(2, 0, 1)[None])
    if (h, w) != (img_size, img_size):
        x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
    det = decode_predictions(model(x.to(device)).cpu(), score_threshold=score_threshold)[0]
    det["boxes"] = det["boxes"] * torch.tensor([w / img_size, h / img_size] * 2)
    return det


def measure_fps(model, frame_rgb: np.ndarray, device, img_size: int, seconds: float = 3.0) -> float:
    """배치 1, 워밍업 10회 후 end-to-end 초당 프레임 수 (처음 몇 번은 메모리 할당 등으로 느림)."""
    model.eval()
    for _ in range(10):
        detect_frame(model, frame_rgb, device, img_size=img_size)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        detect_frame(model, frame_rgb, device, img_size=img_size)
        count += 1
    return count / (time.perf_counter() - t0)


def korean_font_path() -> str:
    """OpenCV의 putText는 한글을 못 그리므로 PIL에 나눔고딕 파일을 넘깁니다."""
    from matplotlib import font_manager

    from utils.visualization import setup_korean_font
    setup_korean_font()
    return font_manager.findfont(font_manager.FontProperties(family="NanumGothic"))


def draw_detections(frame_rgb: np.ndarray, det: dict, class_names: list[str], fps: float | None = None):
    """상자·클래스·점수(와 FPS)를 그린 새 RGB 배열."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(frame_rgb)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(korean_font_path(), size=max(12, img.width // 40))
    palette = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
    for box, label, score in zip(det["boxes"].tolist(), det["labels"].tolist(), det["scores"].tolist()):
        colour = palette[label % len(palette)]
        draw.rectangle(box, outline=colour, width=max(2, img.width // 200))
        draw.text((box[0] + 2, box[1] + 1), f"{class_names[label]} {score:.2f}", fill=colour, font=font,
                  stroke_width=2, stroke_fill=(255, 255, 255))
    if fps is not None:
        draw.text((5, 5), f"FPS {fps:.1f}", fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(img)


def opencv_has_gui() -> bool:
    """opencv-python-headless(requirements 기본)나 화면 없는 서버에서는 창을 띄울 수 없습니다."""
    import cv2

    gui_line = [ln for ln in cv2.getBuildInformation().splitlines() if "GUI:" in ln]
    has_display = os.name == "nt" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return bool(has_display) and not (gui_line and gui_line[0].split(":")[1].strip() == "NONE")


def load_trained_detector(run, device) -> TinyYOLO:
    path = run.checkpoint_path
    if not path.is_file():
        quick = " --quick" if run.args.quick else ""
        raise CourseError(f"학습된 탐지기가 없습니다: {path}\n"
                          f"       먼저 'python {LESSON}.py{quick}' 로 학습하세요.")
    state = load_checkpoint(path, map_location=device)
    model = TinyYOLO(state["num_classes"]).to(device)
    model.load_state_dict(state["model"])
    return model.eval()


def predict_images(items: list[str], run) -> list[dict]:
    """--image: 파일·폴더의 사진마다 탐지해 상자를 그린 그림을 저장합니다."""
    paths = collect_image_paths(items)          # 없는 경로 → 한국어 오류
    frames = [np.array(read_image(p, "RGB")) for p in paths]   # 이미지가 아닌 파일 → 한국어 오류
    model = load_trained_detector(run, run.device)
    out_dir = run.path("predictions")
    out_dir.mkdir(exist_ok=True)
    from PIL import Image
    rows = []
    for path, frame in zip(paths, frames):
        det = detect_frame(model, frame, run.device)
        Image.fromarray(draw_detections(frame, det, SHAPE_CLASSES)).save(out_dir / f"{path.stem}_탐지.png")
        found = ", ".join(f"{SHAPE_CLASSES[c]} {s:.2f}" for c, s in zip(det["labels"].tolist(),
                                                                        det["scores"].tolist())) or "없음"
        print(f"  {path.name}: {found}")
        rows.append({"path": str(path), "detections": len(det["labels"])})
    print(f"상자를 그린 그림: {out_dir}")
    return rows


def run_stream(source, run, max_frames: int | None) -> Path | None:
    """--video / --camera: 프레임마다 탐지하고 FPS를 그립니다. GUI가 없으면 영상 파일로 저장합니다."""
    import cv2

    if isinstance(source, str) and not Path(source).is_file():
        raise CourseError(f"영상 파일을 찾을 수 없습니다: {source}")
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        what = f"카메라 {source}번" if isinstance(source, int) else f"영상 파일 {source}"
        raise CourseError(f"{what}을(를) 열 수 없습니다. 연결·권한·파일 형식을 확인하세요.")
    try:
        model = load_trained_detector(run, run.device)
    except CourseError:
        cap.release()
        raise
    show = opencv_has_gui()
    if isinstance(source, int) and not show and max_frames is None:
        max_frames = 300    # 창 없이 웹캠을 끝없이 녹화하지 않도록
    out_path, writer, count, fps = run.path("detections.mp4"), None, 0, 0.0
    try:
        while max_frames is None or count < max_frames:
            ok, frame_bgr = cap.read()
            if not ok:
                break
            t0 = time.perf_counter()
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            det = detect_frame(model, rgb, run.device)
            fps = 0.9 * fps + 0.1 / max(time.perf_counter() - t0, 1e-6) if count else 1 / max(time.perf_counter() - t0, 1e-6)
            annotated = cv2.cvtColor(draw_detections(rgb, det, SHAPE_CLASSES, fps), cv2.COLOR_RGB2BGR)
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
          f"상자를 그린 영상을 파일로 저장했습니다: {out_path}\n"
          "       창으로 보려면: pip uninstall opencv-python-headless && pip install opencv-python")
    return out_path


# ---------------------------------------------------------------------------
# 12. COCO로 사전 학습된 탐지기 (가중치가 캐시에 있을 때만)
# ---------------------------------------------------------------------------
def _pretrained_weights_enum():
    from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights
    return SSDLite320_MobileNet_V3_Large_Weights.COCO_V1


def cached_pretrained_weights() -> Path | None:
    """torch hub 캐시(네트워크 없이)에서 가중치 파일을 찾습니다."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(_pretrained_weights_enum().url).name
    return path if path.is_file() else None


def build_coco_detector(pretrained: bool) -> nn.Module:
    """pretrained=False면 무작위 가중치 (테스트가 네트워크 없이 같은 코드 경로를 확인할 때)."""
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large
    weights = _pretrained_weights_enum() if pretrained else None
    return ssdlite320_mobilenet_v3_large(weights=weights, weights_backbone=None).eval()


def coco91_to_80() -> torch.Tensor:
    """torchvision의 91칸 COCO 번호('N/A' 빈칸 포함) → coco128 라벨의 0~79 번호 (없는 칸 = -1)."""
    categories = _pretrained_weights_enum().meta["categories"]
    table = torch.full((len(categories),), -1, dtype=torch.long)
    real = [i for i, name in enumerate(categories) if name not in ("__background__", "N/A")]
    table[real] = torch.arange(len(real))
    return table


@torch.no_grad()
def detect_coco(model: nn.Module, images: list[torch.Tensor], batch_size: int = 8) -> list[dict]:
    """torchvision 탐지기 출력 → 이 레슨의 형식 (xyxy, scores, 0~79 labels)."""
    table = coco91_to_80()
    out = []
    for i in range(0, len(images), batch_size):
        for det in model([img.float() / 255 for img in images[i:i + batch_size]]):
            labels = table[det["labels"]]
            keep = labels >= 0
            out.append({"boxes": det["boxes"][keep], "scores": det["scores"][keep], "labels": labels[keep]})
    return out


def evaluate_pretrained(coco: Coco128, run) -> dict | None:
    if cached_pretrained_weights() is None:
        print(f"[안내] COCO로 사전 학습된 탐지기({PRETRAINED_NAME})의 가중치가 이 컴퓨터의 torch hub 캐시\n"
              f"       ({Path(torch.hub.get_dir()) / 'checkpoints'})에 없습니다. 이 부분(사전 학습 모델로 coco128\n"
              "       탐지·평가)만 건너뜁니다. 인터넷이 되는 곳에서 'python download_data.py 06' 을 한 번 실행하면\n"
              "       가중치가 캐시에 저장되어 다음부터 오프라인에서도 이 부분이 실행됩니다.")
        return None
    model = build_coco_detector(pretrained=True)
    preds = detect_coco(model, coco.images)
    result = mean_average_precision(preds, coco.targets)
    print(f"사전 학습 {PRETRAINED_NAME}: coco128 {len(coco.images)}장 mAP@0.5 {result['map50']:.3f}, "
          f"mAP@[.5:.95] {result['map50_95']:.3f} (이 레슨의 mAP 코드로 계산)")
    names = korean_coco_names(coco.class_names)
    plot_detections_grid(coco.images[:6], preds[:6], names, run.path("coco_pretrained_detections.png"),
                         "사전 학습 탐지기의 coco128 탐지 결과 (점수 0.4 이상)", score_threshold=0.4)
    return result


# ---------------------------------------------------------------------------
# 13. 그림
# ---------------------------------------------------------------------------
def _draw_boxes(ax, image: torch.Tensor, boxes, labels, names, scores=None, palette=None):
    import matplotlib.patches as patches
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    ax.imshow(image.permute(1, 2, 0).numpy())
    ax.axis("off")
    shown = {}
    for k, (box, label) in enumerate(zip(boxes.tolist(), labels.tolist())):
        colour = cmap(label % 10)
        ax.add_patch(patches.Rectangle((box[0], box[1]), box[2] - box[0], box[3] - box[1], fill=False,
                                       edgecolor=colour, linewidth=1.5))
        if scores is not None:
            ax.text(box[0], box[1], f"{scores[k]:.2f}", color="white", fontsize=6,
                    bbox={"facecolor": colour, "pad": 0.5, "linewidth": 0})
        shown.setdefault(names[label], patches.Patch(color=colour, label=names[label]))
    return shown


def plot_detections_grid(images, dets, names, path, title, score_threshold=None, ncols=3):
    from utils.visualization import new_figure, save_figure

    nrows = max(1, math.ceil(len(images) / ncols))
    fig, axes = new_figure(ncols=ncols, nrows=nrows, size=(3.3, 3.3))
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, det in zip(axes.flat, images, dets):
        keep = det["scores"] >= score_threshold if score_threshold is not None and "scores" in det else \
            torch.ones(len(det["labels"]), dtype=torch.bool)
        scores = det["scores"][keep].tolist() if "scores" in det else None
        handles = _draw_boxes(ax, img, det["boxes"][keep], det["labels"][keep], names, scores)
        if handles:
            ax.legend(handles=list(handles.values()), fontsize=6, loc="lower right", framealpha=0.7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_class_statistics(labels: torch.Tensor, names: list[str], path: Path, top: int = 20) -> Path:
    from utils.visualization import new_figure, save_figure

    counts = torch.bincount(labels, minlength=len(names))
    order = torch.argsort(counts, descending=True, stable=True)[:top]
    fig, axes = new_figure(size=(9, 4))
    ax = axes[0, 0]
    ax.bar([names[i] for i in order.tolist()], counts[order].tolist(), color="tab:blue")
    ax.set_title(f"coco128 클래스별 상자 수 (상위 {top}개, 전체 {int(counts.sum())}개, "
                 f"등장 클래스 {int((counts > 0).sum())}개)")
    ax.set_ylabel("상자 수")
    ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def plot_training(history: dict, path: Path) -> Path:
    from utils.visualization import new_figure, save_figure

    fig, axes = new_figure(ncols=2, size=(5.5, 3.8))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, name in [("box", "상자 (1-IoU)"), ("obj", "객체성 (BCE)"), ("cls", "클래스 (교차 엔트로피)")]:
        axes[0, 0].plot(epochs, history[key], "-o", ms=3, label=name)
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


def plot_pr_curves(result: dict, path: Path) -> Path:
    from utils.visualization import new_figure, save_figure

    fig, axes = new_figure(size=(5.5, 4.5))
    ax = axes[0, 0]
    for c, precision in result["pr_curve"].items():
        ax.plot(COCO_RECALL_POINTS, precision, label=f"{SHAPE_CLASSES[c]} (AP50 {result['ap50_per_class'][c]:.3f})")
    ax.set_xlabel("재현율 (recall)")
    ax.set_ylabel("정밀도 (precision, 보간)")
    ax.set_title(f"시험 세트 정밀도-재현율 곡선 (IoU 0.5), mAP@0.5 = {result['map50']:.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(fig, path)


# ---------------------------------------------------------------------------
# 14. 데이터 내려받기 (강사용), 명령행 옵션, main
# ---------------------------------------------------------------------------
def _safe_unzip(archive: Path, dest: Path) -> None:
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        for name in zf.namelist():
            target = (dest / name).resolve()
            if not str(target).startswith(str(dest.resolve())):
                raise CourseError(f"압축 파일에 폴더 밖을 가리키는 경로가 있습니다: {name}")
        zf.extractall(dest)


def download_dataset(root: Path) -> bool:
    """coco128(Ultralytics 공식 zip)을 받아 풀고 128장·라벨을 확인합니다. 사전 학습 가중치도 캐시에 받아 둡니다.

    Ultralytics는 zip의 체크섬을 공개하지 않으므로 풀어 낸 내용(이미지 128장, 라벨 폴더)을 확인합니다.
    COCO json(annotations/)은 포함되지 않지만 이 레슨은 YOLO 라벨만으로 동작합니다.
    """
    from utils.data_utils import fetch_verified

    root = Path(root)
    if not coco128_present(root):
        archive = root / "coco128.zip"
        if fetch_verified([COCO128_URL], archive, None):
            _safe_unzip(archive, root)
            archive.unlink(missing_ok=True)
    ok = coco128_present(root) and len(list((coco128_dir(root) / "images" / "train2017").glob("*.jpg"))) == 128
    if ok and not (coco128_dir(root) / "classes.txt").is_file():
        (coco128_dir(root) / "classes.txt").write_text(
            "\n".join(n for n in _pretrained_weights_enum().meta["categories"] if n not in ("__background__", "N/A"))
            + "\n", encoding="utf-8")
    weights = _pretrained_weights_enum()
    dest = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if fetch_verified([weights.url], dest, None):
        from utils.data_utils import file_digest
        if not file_digest(dest, "sha256").startswith(dest.stem.split("-")[-1]):   # torchvision의 해시 규칙
            dest.unlink()
            print("  사전 학습 가중치의 체크섬이 맞지 않아 지웠습니다.")
    return ok


def build_parser():
    p = make_parser(f"{LESSON}.py", "레슨 06 — YOLO식 객체 탐지: 박스·IoU·NMS·mAP와 처음부터 학습하는 탐지기",
                    epochs=10, batch_size=32, lr=3e-3)
    p.add_argument("--image", nargs="+", metavar="FILE|FOLDER", help="학습된 탐지기로 사진(들) 탐지")
    p.add_argument("--video", metavar="FILE", help="영상 파일 탐지 (상자와 FPS를 그린 영상 저장 또는 창)")
    p.add_argument("--camera", type=int, metavar="N", help="웹캠 번호 (보통 0). GUI 있는 OpenCV면 창을 띄움")
    p.add_argument("--max-frames", type=positive_int, default=None, help="영상·웹캠에서 처리할 최대 프레임 수")
    p.add_argument("--n-train", type=positive_int, default=6000, help="생성 학습 이미지 수 (기본 6000)")
    p.add_argument("--n-test", type=positive_int, default=600, help="생성 시험 이미지 수 (기본 600, 다른 시드)")
    return p


def show_box_formats() -> None:
    box = torch.tensor([[32.0, 16.0, 96.0, 64.0]])
    print("같은 상자의 세 가지 표기 (128×128 이미지):")
    print(f"  xyxy  (왼쪽,위,오른쪽,아래) = {box.tolist()[0]}")
    print(f"  xywh  (왼쪽,위,너비,높이)   = {xyxy_to_xywh(box).tolist()[0]}  ← COCO json")
    print(f"  YOLO  (정규화 cx,cy,w,h)    = {[round(v, 4) for v in xyxy_to_yolo(box, 128, 128).tolist()[0]]}"
          "  ← YOLO 라벨 파일")


def coco_section(args, run) -> tuple[str, dict]:
    """실제 사진: coco128 읽기 → 정답 상자·클래스 통계 그림 → (가중치가 있으면) 사전 학습 탐지기 평가."""
    root = resolve_data_dir(args.data_dir)
    source = locate_dataset(args, "coco128", coco128_expected(root), present=lambda: coco128_present(root),
                            download=lambda: download_dataset(root))
    if source == "fallback":
        print("coco128이 없어 실제 사진 부분을 건너뜁니다 (생성 도형 데이터로 탐지기 학습은 그대로 진행).")
        return source, {}
    coco = load_coco128(root, limit=6 if args.quick else None)
    if coco.orphan_labels:
        print(f"[알림] 이미지가 없는 라벨 파일 {len(coco.orphan_labels)}개는 건너뜁니다: "
              f"{', '.join(coco.orphan_labels)}")
    empty = sum(len(t["labels"]) == 0 for t in coco.targets)
    print(f"coco128: 이미지 {len(coco.paths)}장 읽음 (그중 물체 없는 이미지 {empty}장), "
          f"라벨 파일 전체의 상자 {len(coco.all_labels)}개")
    names = korean_coco_names(coco.class_names)
    plot_detections_grid(coco.images[:6], coco.targets[:6], names, run.path("coco128_ground_truth.png"),
                         "coco128 정답 상자 (YOLO 라벨을 픽셀 좌표로 변환)")
    plot_class_statistics(coco.all_labels, names, run.path("coco128_class_statistics.png"))
    pretrained = None if args.quick else evaluate_pretrained(coco, run)
    if args.quick:
        print("[안내] --quick 에서는 사전 학습 탐지기 평가를 건너뜁니다.")
    extra = {"coco128_boxes": int(len(coco.all_labels)),
             "coco_pretrained_map50": None if pretrained is None else round(pretrained["map50"], 4),
             "coco_pretrained_map50_95": None if pretrained is None else round(pretrained["map50_95"], 4)}
    return source, extra


@lesson_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    modes = [name for name, value in [("--image", args.image), ("--video", args.video), ("--camera", args.camera)]
             if value is not None]
    if len(modes) > 1:
        raise CourseError(f"{' 와 '.join(modes)} 는 함께 쓸 수 없습니다. 하나만 고르세요.")
    run = start_run(LESSON, args, argv)
    if args.image:
        return predict_images(args.image, run)
    if args.video is not None or args.camera is not None:
        return run_stream(args.video if args.video is not None else args.camera, run, args.max_frames)

    # 1) 상자 표기, 2) 실제 사진(coco128)
    show_box_formats()
    data_source, coco_metrics = coco_section(args, run)

    # 3) 생성 도형 데이터: 학습·검증·시험이 서로 다른 시드 → 시험 이미지는 학습 중 한 번도 보지 않음
    n_train, n_val, n_test = (480, 40, 60) if args.quick else (args.n_train, 300, args.n_test)
    t0 = time.perf_counter()
    train = make_shapes_dataset(n_train, seed=args.seed)
    val = make_shapes_dataset(n_val, seed=args.seed + 1)
    test = make_shapes_dataset(n_test, seed=args.seed + 2)
    print(f"생성 도형 데이터: 학습 {n_train}장 · 검증 {n_val}장 · 시험 {n_test}장 "
          f"(물체 {int((train.labels >= 0).sum())}개, {time.perf_counter() - t0:.1f}초)")
    plot_detections_grid(train.images[:6], train.targets()[:6], SHAPE_CLASSES, run.path("shapes_samples.png"),
                         "생성 도형 데이터와 정답 상자 (클래스는 모양, 색은 무작위)")

    # 4) 탐지기 학습
    epochs = 1 if args.quick else args.epochs
    args.epochs = epochs
    if args.quick:      # 한 에폭뿐이라 작은 배치로 갱신 횟수를 늘려야 무언가를 배웁니다
        args.batch_size = min(args.batch_size, 8)
    model = TinyYOLO().to(run.device)
    print(f"TinyYOLO: 파라미터 {count_parameters(model):,}개, 격자 {IMG_SIZE // STRIDE}×{IMG_SIZE // STRIDE} "
          f"(스트라이드 {STRIDE}), 에폭 {epochs}")
    print(f"손실 = {BOX_LOSS_WEIGHT:g} × 상자(1 − IoU, 물체를 맡은 칸만) + 객체성(BCE, 모든 칸; 목표는 예측 상자의 IoU)"
          " + 클래스(교차 엔트로피, 물체를 맡은 칸만)")
    history = train_detector(model, train, val, args, run)
    plot_training(history, run.path("training_curves.png"))

    # 5) 시험 세트 평가: 직접 만든 NMS·mAP로
    preds = predict_dataset(model, test.images, run.device)
    result = mean_average_precision(preds, test.targets())
    print(f"\n시험 세트 ({n_test}장): mAP@0.5 = {result['map50']:.4f}, mAP@[.5:.95] = {result['map50_95']:.4f}")
    for c, ap in result["ap_per_class"].items():
        print(f"  {SHAPE_CLASSES[c]:<4} AP@0.5 {result['ap50_per_class'][c]:.3f}  AP@[.5:.95] {ap:.3f}")
    plot_pr_curves(result, run.path("pr_curve.png"))
    plot_detections_grid(test.images[:9], preds[:9], SHAPE_CLASSES, run.path("test_detections.png"),
                         "시험 이미지 탐지 결과 (점수 0.3 이상, NMS 후)", score_threshold=0.3)

    # 6) 실시간 추론 속도 (배치 1, 전처리 → 모델 → 디코딩 → NMS)
    frame = test.images[0].permute(1, 2, 0).numpy().copy()
    big = F.interpolate(test.images[:1].float(), size=320, mode="bilinear").round().byte()[0]
    fps128 = measure_fps(model, frame, run.device, IMG_SIZE, seconds=0.5 if args.quick else 3.0)
    fps320 = measure_fps(model, big.permute(1, 2, 0).numpy().copy(), run.device, 320,
                         seconds=0.5 if args.quick else 3.0)
    print(f"FPS (배치 1, end-to-end, {run.device}): 128×128 {fps128:.1f}, 320×320 {fps320:.1f}")

    metrics = {"map50": round(result["map50"], 4), "map50_95": round(result["map50_95"], 4),
               "fps_cpu": round(fps128, 1), "fps_cpu_320": round(fps320, 1),
               "ap50_per_class": {SHAPE_CLASSES[c]: round(v, 4) for c, v in result["ap50_per_class"].items()},
               "final_train_loss": round(history["loss"][-1], 4), **coco_metrics}
    if run.device.type != "cpu":
        print("[알림] fps_cpu 는 이름과 달리 이번 실행의 장치에서 잰 값입니다.")
    run.write_metrics(dataset="생성 도형 탐지 데이터 (128×128, 4클래스) + coco128", data_source=data_source,
                      epochs=epochs, n_train=n_train, n_test=n_test, metrics=metrics)
    return metrics


if __name__ == "__main__":
    main()
