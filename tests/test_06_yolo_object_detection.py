"""레슨 06 테스트: 박스 변환, IoU·NMS·mAP를 라이브러리와 비교, YOLO 레이블, 인코더/디코더, 학습·이어서 학습,
빠른 실행(대체 데이터)과 추론 모드, 잘못된 입력. 실제 데이터의 --quick 실행은 노트북 테스트가 합니다."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from conftest import lesson, read_metrics, run_main

from utils.datasets import coco128
from utils.model_utils import CourseError, start_run
from utils.video import opencv_has_gui

m = lesson("06_yolo_object_detection")
NAME = "06_yolo_object_detection"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """작은 텐서뿐이라 스레드 2개의 이득은 작고, CPU를 다른 작업과 나눌 때는 스레드끼리 기다리느라
    몇 배 느려집니다 (OpenMP 바쁜 대기). 이 파일 동안만 1개로 두고 되돌립니다."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _raise(*_a, **_k):
    raise AssertionError("직접 구현이 라이브러리 함수를 불렀습니다")


@pytest.fixture
def no_library(monkeypatch):
    """직접 구현을 실행하는 동안 torchvision·pycocotools의 해당 함수를 모두 막습니다."""
    import pycocotools.cocoeval
    import pycocotools.mask

    for name in ("box_iou", "nms", "batched_nms", "box_area"):
        monkeypatch.setattr(torchvision.ops, name, _raise)
        monkeypatch.setattr(torchvision.ops.boxes, name, _raise)
    monkeypatch.setattr(pycocotools.mask, "iou", _raise)
    monkeypatch.setattr(pycocotools.cocoeval.COCOeval, "evaluate", _raise)
    monkeypatch.setattr(pycocotools.cocoeval.COCOeval, "accumulate", _raise)
    return monkeypatch


def random_boxes(n, gen, size=100.0, integer=False):
    xy = torch.rand(n, 2, generator=gen) * size
    wh = torch.rand(n, 2, generator=gen) * size / 3 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    return boxes.round() if integer else boxes


# ---------------------------------------------------------------------------
# 박스 변환
# ---------------------------------------------------------------------------
def test_box_conversions_round_trip():
    gen = torch.Generator().manual_seed(0)
    b = random_boxes(50, gen).double()
    assert torch.allclose(m.xywh_to_xyxy(m.xyxy_to_xywh(b)), b)
    assert torch.allclose(m.cxcywh_to_xyxy(m.xyxy_to_cxcywh(b)), b)
    assert torch.allclose(m.yolo_to_xyxy(m.xyxy_to_yolo(b, 640, 480), 640, 480), b)
    one = torch.tensor([[32.0, 16.0, 96.0, 64.0]])
    assert m.xyxy_to_xywh(one).tolist() == [[32.0, 16.0, 64.0, 48.0]]
    assert m.xyxy_to_yolo(one, 128, 128).tolist() == [[0.5, 0.3125, 0.5, 0.375]]
    for ours, ref in [("xyxy", "xywh"), ("xyxy", "cxcywh")]:
        lib = torchvision.ops.box_convert(b, ours, ref)
        mine = m.xyxy_to_xywh(b) if ref == "xywh" else m.xyxy_to_cxcywh(b)
        assert torch.allclose(mine, lib)


# ---------------------------------------------------------------------------
# IoU · NMS 를 torchvision 과 비교 (직접 구현 중에는 라이브러리를 막음)
# ---------------------------------------------------------------------------
def test_box_iou_matches_torchvision(no_library):
    gen = torch.Generator().manual_seed(1)
    a, b = random_boxes(40, gen), random_boxes(30, gen)
    b[0] = a[0]                                    # 완전히 같은 상자
    b[1] = torch.tensor([500.0, 500, 510, 510])    # 아무와도 겹치지 않는 상자
    mine = m.box_iou(a, b)
    no_library.undo()
    ref = torchvision.ops.box_iou(a, b)
    assert torch.allclose(mine, ref, atol=1e-6)
    assert mine[0, 0] == pytest.approx(1.0) and mine[:, 1].max() == 0


@pytest.mark.parametrize("seed,threshold", [(0, 0.5), (1, 0.3), (2, 0.7), (3, 0.0)])
def test_nms_matches_torchvision_with_ties(no_library, seed, threshold):
    gen = torch.Generator().manual_seed(seed)
    boxes = random_boxes(300, gen, integer=True)
    boxes[150:200] = boxes[100:150]                                  # 똑같은 상자
    scores = (torch.rand(300, generator=gen) * 10).floor() / 10      # 점수 동점이 많음
    labels = torch.randint(0, 4, (300,), generator=gen)
    mine = m.nms(boxes, scores, threshold)
    mine_batched = m.batched_nms(boxes, scores, labels, threshold)
    no_library.undo()
    assert torch.equal(mine, torchvision.ops.nms(boxes, scores, threshold))
    assert torch.equal(mine_batched, torchvision.ops.batched_nms(boxes, scores, labels, threshold))


def test_nms_random_float_boxes_and_empty(no_library):
    gen = torch.Generator().manual_seed(7)
    boxes, scores = random_boxes(500, gen), torch.rand(500, generator=gen)
    labels = torch.randint(0, 10, (500,), generator=gen)
    mine, mine_b = m.nms(boxes, scores, 0.45), m.batched_nms(boxes, scores, labels, 0.45)
    empty = m.batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5)
    no_library.undo()
    assert torch.equal(mine, torchvision.ops.nms(boxes, scores, 0.45))
    assert torch.equal(mine_b, torchvision.ops.batched_nms(boxes, scores, labels, 0.45))
    assert empty.numel() == 0


# ---------------------------------------------------------------------------
# mAP 를 COCO 공식 평가(pycocotools)와 비교: coco128 정답 + 흔든 예측
# ---------------------------------------------------------------------------
def _coco_json(real_data_dir) -> Path:
    path = real_data_dir / "coco128" / "annotations" / "instances_train2017.json"
    if not path.is_file():
        pytest.skip("coco128 COCO json 이 없습니다")
    return path


def _perturbed_predictions(gt: dict, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cat_ids = [c["id"] for c in gt["categories"]]
    sizes = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    dets = []
    for ann in gt["annotations"]:                       # 군중 상자 위에도 예측을 둠 (무시돼야 함)
        if rng.random() < 0.15:
            continue                                    # 놓친 물체
        x, y, w, h = ann["bbox"]
        for k in range(1 + int(rng.random() < 0.3)):    # 가끔 중복 예측
            jitter = rng.normal(0, 0.08 * (1 + k), 4) * [w, h, w, h]
            cat = ann["category_id"] if rng.random() > 0.1 else int(rng.choice(cat_ids))
            dets.append({"image_id": ann["image_id"], "category_id": cat, "score": float(rng.random()),
                         "bbox": [x + jitter[0], y + jitter[1], max(w + jitter[2], 1.0), max(h + jitter[3], 1.0)]})
    for image_id, (w, h) in sizes.items():              # 정답이 없는 이미지 포함, 엉뚱한 예측
        for _ in range(int(rng.integers(0, 4))):
            bw, bh = rng.uniform(10, w / 2), rng.uniform(10, h / 2)
            dets.append({"image_id": image_id, "category_id": int(rng.choice(cat_ids)), "score": float(rng.random()),
                         "bbox": [rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh]})
    return dets


def _to_lesson_format(gt: dict, dets: list[dict]):
    image_ids = sorted(im["id"] for im in gt["images"])
    def pack(items, with_scores):
        out = {}
        for i in image_ids:
            rows = [a for a in items if a["image_id"] == i]
            d = {"boxes": m.xywh_to_xyxy(torch.tensor([a["bbox"] for a in rows], dtype=torch.float64).reshape(-1, 4)),
                 "labels": torch.tensor([a["category_id"] for a in rows], dtype=torch.long)}
            if with_scores:
                d["scores"] = torch.tensor([a["score"] for a in rows], dtype=torch.float64)
            else:
                d["iscrowd"] = torch.tensor([a.get("iscrowd", 0) for a in rows], dtype=torch.long)
            out[i] = d
        return [out[i] for i in image_ids]
    return pack(dets, True), pack(gt["annotations"], False)


def _cocoeval(json_path: Path, dets: list[dict]):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(json_path))
    ev = COCOeval(gt, gt.loadRes(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1])
def test_map_matches_pycocotools(real_data_dir, no_library, seed):
    json_path = _coco_json(real_data_dir)
    gt = json.loads(json_path.read_text(encoding="utf-8"))
    assert sum(a["iscrowd"] for a in gt["annotations"]) == 10          # 군중 상자가 실제로 들어 있음
    dets = _perturbed_predictions(gt, seed)
    preds, targets = _to_lesson_format(gt, dets)
    mine = m.mean_average_precision(preds, targets)
    no_library.undo()
    stats = _cocoeval(json_path, dets)
    assert 0.2 < stats[0] < 0.9
    assert mine["map50_95"] == pytest.approx(stats[0], abs=1e-3)
    assert mine["map50"] == pytest.approx(stats[1], abs=1e-3)


def _cocoeval_from_dicts(images: list[dict], gts: list[dict], dets: list[dict]):
    """메모리의 정답·예측으로 COCO 공식 평가. loadRes 는 빈 예측 목록을 받지 못하므로 COCO 객체를 직접 만듭니다."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def build(anns):
        coco = COCO()
        coco.dataset = {"images": images, "categories": [{"id": c} for c in (1, 2, 3)], "annotations": [
            {"id": k + 1, "area": a["bbox"][2] * a["bbox"][3], "iscrowd": 0, **a} for k, a in enumerate(anns)]}
        coco.createIndex()
        return coco

    ev = COCOeval(build(gts), build(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev.stats


EDGE_IMAGES = [{"id": i, "width": 100, "height": 100} for i in (1, 2, 3, 4)]
EDGE_GT = [  # xywh. 이미지 2: 정답 없음. 클래스 3: 군중 상자뿐 (평균에서 빠짐)
    {"image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 30]},
    {"image_id": 1, "category_id": 1, "bbox": [50, 50, 40, 40], "iscrowd": 1},
    {"image_id": 1, "category_id": 2, "bbox": [60, 10, 20, 20]},
    {"image_id": 3, "category_id": 1, "bbox": [5, 5, 50, 50]},
    {"image_id": 3, "category_id": 3, "bbox": [0, 0, 100, 100], "iscrowd": 1},
    {"image_id": 4, "category_id": 2, "bbox": [20, 20, 30, 30]},
]
EDGE_DETS = [  # 이미지 1의 클래스 2: 예측 없음
    {"image_id": 1, "category_id": 1, "bbox": [11, 12, 29, 27], "score": 0.9},
    {"image_id": 1, "category_id": 1, "bbox": [55, 55, 10, 10], "score": 0.8},   # 군중 안: 무시
    {"image_id": 1, "category_id": 1, "bbox": [70, 60, 15, 20], "score": 0.7},   # 군중 안: 무시
    {"image_id": 2, "category_id": 1, "bbox": [30, 30, 20, 20], "score": 0.95},  # 정답 없는 이미지: FP
    {"image_id": 2, "category_id": 2, "bbox": [0, 0, 20, 20], "score": 0.3},
    {"image_id": 3, "category_id": 1, "bbox": [8, 3, 45, 55], "score": 0.6},
    {"image_id": 3, "category_id": 1, "bbox": [9, 6, 40, 52], "score": 0.4},     # 중복: FP
    {"image_id": 3, "category_id": 3, "bbox": [10, 10, 30, 30], "score": 0.5},   # 군중뿐인 클래스
    {"image_id": 4, "category_id": 2, "bbox": [22, 21, 27, 31], "score": 0.2},   # FP보다 낮은 점수의 TP
]


@pytest.mark.parametrize("case", ["mixed", "no_predictions", "no_ground_truth"])
def test_map_edge_cases_match_pycocotools(no_library, case):
    gts = [] if case == "no_ground_truth" else EDGE_GT
    dets = [] if case == "no_predictions" else EDGE_DETS
    preds, targets = _to_lesson_format({"images": EDGE_IMAGES, "annotations": gts}, dets)
    mine = m.mean_average_precision(preds, targets)
    no_library.undo()
    stats = _cocoeval_from_dicts(EDGE_IMAGES, gts, dets)
    assert mine["map50_95"] == pytest.approx(stats[0], abs=1e-3)
    assert mine["map50"] == pytest.approx(stats[1], abs=1e-3)
    expected = {"mixed": (0.0, 1.0), "no_predictions": (0.0, 0.0), "no_ground_truth": (-1.0, -1.0)}[case]
    assert expected[0] <= stats[1] <= expected[1]
    if case == "mixed":
        assert 0.2 < stats[1] < 0.9 and set(mine["ap_per_class"]) == {1, 2}    # 군중뿐인 클래스 3은 제외


def test_map_edge_cases(no_library):
    gt = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 60, 60]]), "labels": torch.tensor([0, 0]),
           "iscrowd": torch.tensor([0, 1])}]
    empty = [{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}]
    assert m.mean_average_precision(empty, gt)["map50"] == 0.0           # 예측 없음 → 0
    # 군중 상자 안의 예측은 FP가 아니다 → 진짜 물체를 맞힌 예측만으로 AP = 1
    on_crowd = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [25, 25, 35, 35]]), "scores": torch.tensor([0.5, 0.9]),
                 "labels": torch.tensor([0, 0])}]
    assert m.mean_average_precision(on_crowd, gt)["map50_95"] == pytest.approx(1.0)
    no_gt = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    assert m.mean_average_precision(on_crowd, no_gt)["map50"] == -1.0    # 정답이 하나도 없음 (COCO도 -1)
    perfect = [{"boxes": gt[0]["boxes"][:1], "scores": torch.tensor([1.0]), "labels": torch.tensor([0])}]
    assert m.mean_average_precision(perfect, gt)["map50"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------
# coco128 YOLO 레이블: 특이점과 잘못된 줄 (읽기는 utils/datasets/coco128.py, 픽셀 변환은 장)
# ---------------------------------------------------------------------------
def test_coco128_quirks(real_data_dir):
    if not coco128.present(real_data_dir):
        pytest.skip("coco128 없음")
    data = coco128.read(real_data_dir)
    assert data.orphan_labels == ["000000000656.txt", "000000000659.txt"]    # 이미지 없는 레이블: 보고만
    assert len(data.all_labels) == 929 and len(torch.unique(data.all_labels)) == 71
    assert len(data.paths) == 128 and len(data.images) == 128
    targets = m.coco_targets(data)
    idx = [p.stem for p in data.paths].index("000000000250")                # 레이블 파일 없는 이미지
    assert len(targets[idx]["labels"]) == 0 and targets[idx]["boxes"].shape == (0, 4)
    first = targets[0]                                                       # 000000000009.jpg: 640×480
    assert data.images[0].shape == (3, 480, 640) and first["labels"][:3].tolist() == [45, 45, 50]
    assert torch.allclose(first["boxes"], m.yolo_to_xyxy(data.yolo_boxes[0], 640, 480))
    assert first["boxes"][:, 2].max() <= 640 and first["boxes"][:, 3].max() <= 480
    assert len(coco128.read(real_data_dir, limit=3).images) == 3


def test_malformed_label_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0 0.5 0.5 0.2 0.2\n3 0.5 abc 0.1 0.1\n", encoding="utf-8")
    with pytest.raises(CourseError, match="2번째 줄"):
        coco128.parse_yolo_label_file(bad)
    bad.write_text("99 0.5 0.5 0.2 0.2\n", encoding="utf-8")
    with pytest.raises(CourseError, match="YOLO 레이블 형식이 잘못되었습니다"):
        coco128.parse_yolo_label_file(bad)


def test_malformed_label_through_main(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "data" / "coco128"
    (root / "images" / "train2017").mkdir(parents=True)
    (root / "labels" / "train2017").mkdir(parents=True)
    Image.new("RGB", (64, 48), (10, 200, 30)).save(root / "images" / "train2017" / "a.jpg")
    (root / "labels" / "train2017" / "a.txt").write_text("0 0.5 0.5 0.3\n", encoding="utf-8")
    code = run_main(m, ["--quick", "--data-dir", str(tmp_path / "data"), "--out-dir", str(tmp_path / "out")])
    assert code == 2
    assert "YOLO 레이블 형식이 잘못되었습니다" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# 생성 데이터 규칙과 인코더/디코더 왕복
# ---------------------------------------------------------------------------
def test_generated_dataset_rules():
    data = m.make_shapes_dataset(120, seed=5)
    assert data.images.shape == (120, 3, 128, 128) and data.images.dtype == torch.uint8
    counts = (data.labels >= 0).sum(1)
    assert counts.min() >= 1 and counts.max() <= 6
    assert set(data.labels[data.labels >= 0].tolist()) == {0, 1, 2, 3}
    for t in data.targets():
        wh = t["boxes"][:, 2:] - t["boxes"][:, :2]
        assert wh.min() >= 12 and wh.max() <= 56
        iou = m.box_iou(t["boxes"], t["boxes"]) - torch.eye(len(t["boxes"]))
        assert iou.max() <= 0.3
    again = m.make_shapes_dataset(120, seed=5)
    assert torch.equal(again.images, data.images)                         # 같은 시드 → 같은 데이터
    assert not torch.equal(m.make_shapes_dataset(5, seed=6).images, data.images[:5])


def test_encode_decode_round_trip():
    data = m.make_shapes_dataset(200, seed=3)
    cls_t, box_t = m.encode_targets(data.boxes, data.labels)
    # 목표를 '완벽한 예측' 로짓으로 바꿔 디코딩하면 정답 상자가 그대로 나와야 합니다
    centres = m.grid_centres(16, 16)
    ltrb = torch.cat([centres - box_t[..., :2], box_t[..., 2:] - centres], -1).clamp(min=1e-3)
    raw = torch.full((200, 5 + 4, 256), -20.0)
    pos = cls_t >= 0
    raw[:, 0] = torch.where(pos, 20.0, -20.0)
    raw[:, 1:5] = torch.log(ltrb / m.STRIDE).transpose(1, 2)
    raw[:, 5:] = torch.where(pos[:, None], 20.0 * torch.nn.functional.one_hot(cls_t.clamp(min=0), 4).transpose(1, 2),
                             torch.zeros(()))
    dets = m.decode_predictions(raw.view(200, 9, 16, 16), score_threshold=0.5)
    for det, target in zip(dets, data.targets()):
        got = sorted(zip(det["labels"].tolist(), [tuple(round(v, 3) for v in b) for b in det["boxes"].tolist()]))
        want = sorted(zip(target["labels"].tolist(), [tuple(float(v) for v in b) for b in target["boxes"].tolist()]))
        assert got == want


def test_detection_loss_terms_and_model_shape():
    model = m.TinyYOLO()
    raw = model(torch.rand(2, 3, 128, 128))
    assert raw.shape == (2, 9, 16, 16)
    data = m.make_shapes_dataset(2, seed=1)
    cls_t, box_t = m.encode_targets(data.boxes, data.labels)
    losses = m.detection_loss(raw, cls_t, box_t)
    assert set(losses) == {"total", "box", "obj", "cls"} and torch.isfinite(losses["total"])
    assert 0 <= losses["box"] <= 1
    assert model(torch.rand(1, 3, 320, 320)).shape[-1] == 40             # 완전 합성곱: 320 입력도 됨


# ---------------------------------------------------------------------------
# 사전 학습 탐지기 경로 (가중치 없이 weights=None 으로 같은 코드 확인)
# ---------------------------------------------------------------------------
def test_pretrained_code_path_without_weights(real_data_dir, monkeypatch, tmp_path, capsys):
    if not coco128.present(real_data_dir):
        pytest.skip("coco128 없음")
    coco = coco128.read(real_data_dir, limit=2)
    table = coco128.coco91_to_80()
    assert table.ge(0).sum() == 80 and table[1] == 0 and table[90] == 79   # 1 = person → 0, 90 = toothbrush → 79
    assert coco128.coco80_names() == coco.class_names                    # 91칸 → 80칸 대응이 이름과 일치
    assert coco128.korean_names(coco.class_names)[0] == "사람"
    torch.manual_seed(0)
    model = m.build_coco_detector(pretrained=False)
    small = [torch.nn.functional.interpolate(img[None].float(), size=(96, 128)).byte()[0] for img in coco.images]
    preds = m.detect_coco(model, small)
    assert len(preds) == 2 and all(p["labels"].max() < 80 for p in preds if len(p["labels"]))
    targets = [{"boxes": t["boxes"] * 0.2, "labels": t["labels"]} for t in m.coco_targets(coco)]
    result = m.mean_average_precision(preds, targets)
    assert 0.0 <= result["map50"] <= 1.0
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))     # 빈 캐시 → 한국어 안내 후 건너뜀
    assert m.evaluate_pretrained(coco, None) is None
    assert "가중치가 이 컴퓨터의 torch hub 캐시" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# 학습: 공용 fit 으로 옮긴 뒤에도 중단 후 --resume 이 끊기지 않은 학습과 같은 가중치에 도달
# ---------------------------------------------------------------------------
def _train(tmp_path, crash_after: int | None = None, resume: bool = False):
    args = argparse.Namespace(seed=3, device="cpu", out_dir=str(tmp_path), quick=False, epochs=2, batch_size=16,
                              lr=3e-3, resume=resume)
    run = start_run(NAME, args, [])
    train, val = m.make_shapes_dataset(48, seed=3), m.make_shapes_dataset(8, seed=4)
    torch.manual_seed(0)
    model = m.TinyYOLO()
    torch.manual_seed(999 if resume else 123)  # 이어서 학습은 난수 상태를 체크포인트에서 되살려야 합니다
    if crash_after is not None:
        saved, real_save = [], run.save

        def save_then_stop(state, path=None):
            real_save(state, path)
            saved.append(1)
            if len(saved) == crash_after:
                raise KeyboardInterrupt

        run.save = save_then_stop
        with pytest.raises(KeyboardInterrupt):
            m.train_detector(model, train, val, args, run)
        return None, None
    history = m.train_detector(model, train, val, args, run)
    return history, model.state_dict()


def test_resume_matches_uninterrupted(tmp_path):
    whole, weights = _train(tmp_path / "한 번에")
    _train(tmp_path / "이어서", crash_after=1)
    resumed, weights_r = _train(tmp_path / "이어서", resume=True)
    assert set(whole) >= {"train_loss", "train_box", "train_obj", "train_cls", "val_map50", "val_map50_95"}
    assert len(whole["train_loss"]) == 2 and whole["train_loss"] == resumed["train_loss"]
    assert all(torch.equal(weights[k], weights_r[k]) for k in weights)
    ckpt = torch.load(tmp_path / "한 번에" / NAME / "checkpoint.pt", weights_only=True)
    assert ckpt["num_classes"] == 4 and ckpt["class_names"] == m.SHAPE_CLASSES and ckpt["epoch"] == 2


# ---------------------------------------------------------------------------
# 빠른 실행 (대체 데이터) + 추론 모드 + 잘못된 입력
# ---------------------------------------------------------------------------
FIGURES = ["iou.png", "nms.png", "shapes_samples.png", "training_curves.png", "pr_curve.png", "test_detections.png"]


def test_quick_run_fallback_then_inference(empty_data_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    assert run_main(m, ["--quick", "--no-download", "--data-dir", str(empty_data_dir), "--out-dir", str(out)]) == 0
    rec = read_metrics(out, NAME)
    assert rec["data_source"] == "fallback" and rec["n_train"] == 480 and rec["n_test"] == 60
    assert rec["metrics"]["map50"] > 0.03 and rec["metrics"]["fps_cpu"] > 1      # 무작위 탐지기는 약 0
    assert 0 <= rec["metrics"]["map50_95"] <= rec["metrics"]["map50"] <= 1
    assert "[주의]" in capsys.readouterr().out
    run_dir = out / f"{NAME}-quick"
    for fig in FIGURES + ["predictions/내 사진_탐지.png"]:
        assert (run_dir / fig).is_file(), fig
    # --image/--video 는 전체 학습의 체크포인트를 씁니다: 빠른 실행의 것을 그 자리에 복사해 확인
    (out / NAME).mkdir()
    shutil.copy(run_dir / "checkpoint.pt", out / NAME / "checkpoint.pt")
    from PIL import Image
    pic = tmp_path / "사진.png"
    Image.fromarray(m.make_shapes_dataset(1, seed=9).images[0].permute(1, 2, 0).numpy()).save(pic)
    assert run_main(m, ["--quick", "--out-dir", str(out), "--image", str(pic)]) == 0
    assert (out / NAME / "predictions" / "사진_탐지.png").is_file()
    assert "사진.png:" in capsys.readouterr().out
    # --video: 짧은 영상 → (화면 없는 OpenCV) 박스를 그린 영상 파일
    import cv2
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for _ in range(5):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    assert run_main(m, ["--out-dir", str(out), "--video", str(video)]) == 0
    out_text = capsys.readouterr().out
    assert "5프레임 처리" in out_text
    if not opencv_has_gui():
        assert (out / NAME / "detections.mp4").is_file() and "opencv-python" in out_text


def test_require_data_missing(empty_data_dir, tmp_path, capsys):
    code = run_main(m, ["--quick", "--require-data", "--data-dir", str(empty_data_dir), "--out-dir", str(tmp_path)])
    assert code == 2 and "coco128 데이터를 찾을 수 없습니다" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--image", "없는파일.jpg"], "파일이나 폴더를 찾을 수 없습니다"),
    (["--video", "없는영상.mp4"], "영상 파일을 찾을 수 없습니다"),
    (["--camera", "57"], "카메라 57번을(를) 열 수 없습니다"),
    (["--camera", "앞"], "카메라 번호는 0 이상의 정수여야 합니다"),
    (["--video", "a.mp4", "--camera", "0"], "--video 와 --camera 는 함께 쓸 수 없습니다"),
    (["--image", "a.jpg", "--video", "a.mp4"], "--image 와 --video 는 함께 쓸 수 없습니다"),
    (["--n-test", "0"], "1 이상의 정수"),
    (["--video", "{tmp}/망가진 영상.mp4"], "열 수 없습니다"),
    (["--image", "{tmp}"], "폴더에 이미지 파일이 없습니다"),
])
def test_bad_inputs(tmp_path, capsys, argv, message):
    (tmp_path / "망가진 영상.mp4").write_text("영상이 아님", encoding="utf-8")    # 있지만 읽을 수 없는 파일
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert run_main(m, ["--out-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_non_image_and_missing_checkpoint(tmp_path, capsys):
    text = tmp_path / "메모.jpg"
    text.write_text("이미지가 아님", encoding="utf-8")
    assert run_main(m, ["--out-dir", str(tmp_path), "--image", str(text)]) == 2
    assert "이미지로 읽을 수 없는 파일입니다" in capsys.readouterr().err
    good = tmp_path / "ok.png"
    from PIL import Image
    Image.new("RGB", (32, 32)).save(good)
    assert run_main(m, ["--out-dir", str(tmp_path), "--image", str(good)]) == 2
    assert "학습된 탐지기가 없습니다" in capsys.readouterr().err
