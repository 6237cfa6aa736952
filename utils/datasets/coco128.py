"""coco128 찾기·내려받기·읽기 (레슨 06이 씁니다).

coco128 = COCO train2017 의 처음 128장 (Ultralytics 배포본): 데이터 루트의
`coco128/images/train2017/*.jpg`, `coco128/labels/train2017/*.txt` (YOLO 레이블), `coco128/classes.txt`
(80개 이름), 있으면 `coco128/annotations/instances_train2017.json` (COCO json, 테스트가 씁니다).
대체 데이터는 없습니다: 없으면 안내 후 레슨의 실제 사진 부분만 건너뜁니다 (data_source "fallback").
COCO로 사전 학습된 탐지기(SSDLite)의 가중치도 여기서 찾거나 받아 둡니다 (torch hub 캐시).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from utils.archives import safe_extract
from utils.data_utils import (fetch_hub_weights, fetch_verified, hub_weights_path, locate_dataset, read_image,
                              resolve_data_dir)
from utils.model_utils import CourseError

URL = "https://github.com/ultralytics/assets/releases/download/v0.0.0/coco128.zip"
N_IMAGES = 128
KOREAN_NAMES = ["사람", "자전거", "자동차", "오토바이", "비행기", "버스", "기차", "트럭", "보트", "신호등",
                "소화전", "정지 표지판", "주차 미터기", "벤치", "새", "고양이", "개", "말", "양", "소",
                "코끼리", "곰", "얼룩말", "기린", "배낭", "우산", "핸드백", "넥타이", "여행 가방", "프리스비",
                "스키", "스노보드", "공", "연", "야구 방망이", "야구 글러브", "스케이트보드", "서핑보드", "테니스 라켓", "병",
                "와인 잔", "컵", "포크", "나이프", "숟가락", "그릇", "바나나", "사과", "샌드위치", "오렌지",
                "브로콜리", "당근", "핫도그", "피자", "도넛", "케이크", "의자", "소파", "화분", "침대",
                "식탁", "변기", "TV", "노트북", "마우스", "리모컨", "키보드", "휴대폰", "전자레인지", "오븐",
                "토스터", "싱크대", "냉장고", "책", "시계", "꽃병", "가위", "곰 인형", "헤어드라이어", "칫솔"]


@dataclass
class Coco128:
    """이미지와 YOLO 레이블. images 는 실제로 읽은(limit 장) 것만 들고 있습니다.

    박스는 YOLO 표기(이미지 크기로 나눈 cx, cy, w, h) 그대로 둡니다: 픽셀 좌표로 바꾸는 것은 레슨이 합니다.
    레이블 파일이 없는 이미지 = 물체 없음 (빈 텐서).
    """
    paths: list[Path]
    images: list[torch.Tensor]       # uint8 (3,H,W)
    labels: list[torch.Tensor]       # long (K,)
    yolo_boxes: list[torch.Tensor]   # float (K,4), 0~1
    class_names: list[str]
    orphan_labels: list[str]         # 이미지가 없는 레이블 파일 (원본 coco128의 특이점)
    all_labels: torch.Tensor         # 모든 레이블 파일의 클래스 (통계용; 레이블 파일만 읽으므로 빠름)


def folder(root: Path) -> Path:
    return Path(root) / "coco128"


def expected(root: Path) -> list[str]:
    d = folder(root)
    return [str(d / "images" / "train2017" / "*.jpg"), str(d / "labels" / "train2017" / "*.txt"),
            str(d / "classes.txt")]


def present(root: Path) -> bool:
    d = folder(root)
    return (d / "labels" / "train2017").is_dir() and any((d / "images" / "train2017").glob("*.jpg"))


def detector_weights():
    """COCO로 사전 학습된 SSDLite320-MobileNetV3 의 torchvision 가중치 정보 (주소·클래스 이름 91칸)."""
    from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights
    return SSDLite320_MobileNet_V3_Large_Weights.COCO_V1


def coco80_names() -> list[str]:
    """torchvision 의 91칸 이름에서 빈칸('N/A')과 배경을 뺀 80개 = coco128 classes.txt 의 순서."""
    return [n for n in detector_weights().meta["categories"] if n not in ("__background__", "N/A")]


def coco91_to_80() -> torch.Tensor:
    """torchvision 탐지기의 91칸 COCO 번호 → coco128 레이블의 0~79 번호 (빈칸 = -1)."""
    categories = detector_weights().meta["categories"]
    table = torch.full((len(categories),), -1, dtype=torch.long)
    real = [i for i, name in enumerate(categories) if name not in ("__background__", "N/A")]
    table[real] = torch.arange(len(real))
    return table


def weights_cached() -> bool:
    """사전 학습 가중치가 torch hub 캐시에 있는가 (네트워크를 쓰지 않음). 없으면 받는 방법을 안내합니다."""
    path = hub_weights_path(detector_weights().url)
    if not path.is_file():
        print(f"  [안내] COCO로 사전 학습된 탐지기(SSDLite)의 가중치가 이 컴퓨터의 torch hub 캐시\n"
              f"       ({path.parent})에 없어 이 부분을 건너뜁니다. 인터넷이 되는 곳에서\n"
              "       'python download_data.py 06' 을 한 번 실행하면 다음부터 오프라인에서도 실행됩니다.")
    return path.is_file()


def download(root: Path) -> bool:
    """강사용 미리 내려받기 (download_data.py): coco128 zip을 받아 안전하게 풀고, 사전 학습 가중치도 캐시에.

    Ultralytics는 zip의 체크섬을 공개하지 않으므로 풀어 낸 내용(이미지 128장, 레이블 폴더)을 확인합니다.
    COCO json(annotations/)은 zip에 없지만 레슨은 YOLO 레이블만으로 동작합니다.
    """
    root = Path(root)
    if not present(root):
        archive = root / "coco128.zip"
        if fetch_verified([URL], archive, None):
            safe_extract(archive, root)
            archive.unlink(missing_ok=True)
    ok = present(root) and len(list((folder(root) / "images" / "train2017").glob("*.jpg"))) == N_IMAGES
    if ok and not (folder(root) / "classes.txt").is_file():
        (folder(root) / "classes.txt").write_text("\n".join(coco80_names()) + "\n", encoding="utf-8")
    reason = fetch_hub_weights(detector_weights().url, allow_download=True)
    if reason is not None:
        print(f"  {reason}")
    return ok


def parse_yolo_label_file(path: Path, num_classes: int = 80) -> tuple[torch.Tensor, torch.Tensor]:
    """'클래스 cx cy w h' 줄들 → (labels (K,), 정규화 cxcywh (K,4)). 잘못된 줄은 파일·줄 번호와 함께 알림."""
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
            raise CourseError(f"YOLO 레이블 형식이 잘못되었습니다: {path} {line_no}번째 줄: {line.strip()!r}\n"
                              f"       한 줄에 '클래스(0~{num_classes - 1}) cx cy w h' (좌표는 0~1) 다섯 값이 필요합니다.")
        labels.append(cls)
        boxes.append(values)
    return (torch.tensor(labels, dtype=torch.long),
            torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))


def read(root: Path, limit: int | None = None) -> Coco128:
    """이미지와 레이블 파일을 이름으로 짝짓습니다. 이미지는 앞에서부터 limit 장만 디코딩합니다 (None: 전부)."""
    d = folder(root)
    names_file = d / "classes.txt"
    names = names_file.read_text(encoding="utf-8").split("\n") if names_file.is_file() else []
    names = [n.strip() for n in names if n.strip()] or [str(i) for i in range(80)]
    image_paths = sorted((d / "images" / "train2017").glob("*.jpg"))
    label_dir = d / "labels" / "train2017"
    stems = {p.stem for p in image_paths}
    orphans = sorted(p.name for p in label_dir.glob("*.txt") if p.stem not in stems)
    parsed = {p.stem: parse_yolo_label_file(p, len(names)) for p in sorted(label_dir.glob("*.txt"))
              if p.stem in stems}
    chosen = image_paths if limit is None else image_paths[:limit]
    empty = (torch.zeros(0, dtype=torch.long), torch.zeros(0, 4))
    images = [torch.from_numpy(np.asarray(read_image(p, "RGB")).copy()).permute(2, 0, 1) for p in chosen]
    all_labels = torch.cat([lab for lab, _ in parsed.values()]) if parsed else torch.zeros(0, dtype=torch.long)
    return Coco128(chosen, images, [parsed.get(p.stem, empty)[0] for p in chosen],
                   [parsed.get(p.stem, empty)[1] for p in chosen], names, orphans, all_labels)


def load(args, limit: int | None = None) -> tuple[Coco128 | None, str]:
    """(데이터 또는 None, data_source). 로컬 → 내려받기 → 없으면 None 과 "fallback" (--require-data 면 오류)."""
    root = resolve_data_dir(args.data_dir)
    source = locate_dataset(args, "coco128", expected(root), present=lambda: present(root),
                            download=lambda: download(root))
    if source == "fallback":
        return None, source
    data = read(root, limit)
    if data.orphan_labels:
        print(f"  [알림] 이미지가 없는 레이블 파일 {len(data.orphan_labels)}개는 건너뜁니다: "
              f"{', '.join(data.orphan_labels)}")
    return data, source


def korean_names(names: list[str]) -> list[str]:
    """COCO 80 클래스의 한국어 이름 (classes.txt 가 표준 80개가 아니면 원래 이름)."""
    return list(KOREAN_NAMES) if len(names) == len(KOREAN_NAMES) else names
