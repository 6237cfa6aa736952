"""docs/results/*.json: 보고한 벤치마크 기록이 스키마를 지키고, 전체 테스트 세트의 실제 데이터로 얻은 것인지."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
RECORDS = sorted((DOCS / "results").glob("*.json"))
# 각 레슨의 '전체 테스트 세트' 크기 (05는 날짜 분할이라 하한만, 06은 생성한 보류 세트 하한)
FULL_TEST_SIZE = {"01_pytorch_basics": 10_000, "02_neural_networks": 10_000,
                  "03_cnn_image_classification": 10_000, "03_cnn_image_classification-fast": 10_000,
                  "04_rnn_text_classification": 25_000,
                  "04_rnn_text_classification-nsmc": 50_000,
                  "08_transformer_nlp": 1_000, "10_distributed_training": 10_000}  # 10: 두 프로세스로 학습한 01
MIN_TEST_SIZE = {"05_lstm_sequence_prediction": 100, "06_yolo_object_detection": 500,
                 "07_gan_image_generation": 1,
                 "09_model_serving": 25_000}  # 09: 양자화 정확도를 잰 리뷰 테스트 세트 (IMDB 25,000 또는 NSMC 50,000)
KEYS = {"lesson", "dataset", "data_source", "command", "device", "machine", "seed", "epochs", "n_train",
        "n_test", "wall_seconds", "peak_memory_mb", "metrics", "versions"}


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_record_schema_and_full_data(path):
    r = json.loads(path.read_text(encoding="utf-8"))
    assert KEYS <= set(r), f"빠진 키: {KEYS - set(r)}"
    assert r["lesson"] == path.stem
    assert r["data_source"] in {"local", "downloaded"}, "대체 데이터로 얻은 결과는 보고하지 않습니다"
    assert r["command"].startswith(f"python {path.stem}.py") and "--quick" not in r["command"]
    assert r["wall_seconds"] > 0 and r["peak_memory_mb"] > 0 and r["metrics"]
    assert "cores" in r["machine"]
    if r["lesson"] in FULL_TEST_SIZE:
        assert r["n_test"] == FULL_TEST_SIZE[r["lesson"]]
    else:
        assert r["n_test"] >= MIN_TEST_SIZE[r["lesson"]]


def test_results_md_is_rendered_from_records():
    sys.path.insert(0, str(DOCS))
    import render_results

    assert render_results.main(["--check"]) == 0


def test_every_lesson_has_targets_and_is_downloadable():
    """레슨 목록은 파일에서 나옵니다: 목표 표(render_results)와 강사용 download_data 가 같은 8개를 알아야 합니다."""
    sys.path.insert(0, str(DOCS))
    import render_results
    import download_data

    files = sorted(p.stem for p in DOCS.parent.glob("[0-9][0-9]_*.py"))
    assert len(files) >= 9 and "10_distributed_training" in files  # 01–08 과 그 뒤의 장들
    assert render_results.LESSONS == files == download_data.LESSONS
