"""강사용: 모든 레슨의 데이터를 한 번에 내려받아 검증합니다 (오프라인 실습실에 복사해 가기 위해).

    python download_data.py --data-dir /shared/data          # 전체
    python download_data.py --data-dir /shared/data 01 03    # 일부 레슨만

레슨마다 utils/datasets/ 의 데이터셋 모듈이 자기 데이터를 받아 체크섬을 확인합니다.
받은 뒤에는 DL_DATA_DIR=/shared/data 로 지정하거나 --data-dir 로 넘기세요.
"""
from __future__ import annotations

import argparse
import sys

from utils.data_utils import download_mnist_raw, resolve_data_dir
from utils.datasets import celeba, cifar10, coco128, imdb, multi30k, nsmc, stocks

# 레슨 → 그 레슨의 데이터를 받는 함수 (root -> 성공 여부). 레슨 파일 목록과 같은지 테스트가 확인합니다.
DOWNLOADS = {
    "01_pytorch_basics": lambda root: download_mnist_raw(root, "MNIST"),
    "02_neural_networks": lambda root: download_mnist_raw(root, "FashionMNIST"),
    "03_cnn_image_classification": cifar10.download,
    "03_cnn_image_classification-fast": cifar10.download,   # 03 의 빠른 레시피 짝 장 (같은 CIFAR-10)
    "04_rnn_text_classification": imdb.download,
    "04_rnn_text_classification-nsmc": nsmc.download,  # 공식 NSMC 파일 (git blob id 확인)
    "05_lstm_sequence_prediction": stocks.download,
    "06_yolo_object_detection": coco128.download,
    "07_gan_image_generation": celeba.download,
    "08_transformer_nlp": multi30k.download,
    # 09: 양자화한 리뷰 모델의 정확도를 재는 테스트 세트 (한국어 모델이면 NSMC, 아니면 IMDB)
    "09_model_serving": lambda root: imdb.download(root) and nsmc.download(root),
    "10_distributed_training": lambda root: download_mnist_raw(root, "MNIST"),  # 확장 측정과 01 레슨 두 프로세스 학습
}
LESSONS = sorted(DOWNLOADS)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="강의 데이터 미리 내려받기")
    p.add_argument("--data-dir", default=None, help="데이터 루트 (기본: DL_DATA_DIR, 없으면 ./data)")
    p.add_argument("lessons", nargs="*", help="레슨 번호 (예: 01 03). 비우면 전체")
    args = p.parse_args(argv)
    root = resolve_data_dir(args.data_dir)
    chosen = [name for name in LESSONS if not args.lessons or name[:2] in args.lessons]
    failed = []
    for name in chosen:
        print(f"[{name}] 데이터 준비 → {root}")
        if not DOWNLOADS[name](root):
            failed.append(name)
    if failed:
        print(f"[실패] 다음 레슨의 데이터를 받지 못했습니다: {', '.join(failed)}"
              " (인터넷 연결 또는 방화벽을 확인하세요)", file=sys.stderr)
        return 1
    print(f"완료. 이제 DL_DATA_DIR={root} 로 실행하세요.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
