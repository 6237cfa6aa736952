"""09장 모델 서빙: 체크포인트 불러오기, API(좋은 입력·나쁜 입력의 한국어 오류), ONNX 내보내기, 마이크로 배처."""
from __future__ import annotations

import argparse
import asyncio
import threading
import time

import pytest
import torch
from fastapi import FastAPI, File, HTTPException, UploadFile
from fastapi.testclient import TestClient

from conftest import lesson, read_metrics
from utils.serving import (BackgroundServer, MicroBatcher, QueueFull, Service, create_app, generate_load,
                           server_stack)

serving = lesson("09_model_serving")


@pytest.fixture(scope="module")
def models(serving_run):
    return serving.load_all(serving_run)


@pytest.fixture(scope="module")
def client(models):
    with TestClient(create_app(serving.build_services(models))) as c:
        yield c


def test_quick_run_records_every_target_metric(serving_run):
    m = read_metrics(serving_run, "09_model_serving")
    assert m["data_source"] == "local" and m["n_test"] == 2 * serving.QUICK_TEST_PER_CLASS
    metrics = m["metrics"]
    for key in ["digit_rps", "digit_p95_ms", "sentiment_batching_speedup", "translate_p50_ms",
                "export_max_abs_diff", "quantized_accuracy_drop", "errors_under_load"]:
        assert key in metrics
    assert metrics["errors_under_load"] == 0 and metrics["digit_rps"] > 0
    assert metrics["export_max_abs_diff"] <= 1e-4
    assert abs(metrics["quantized_accuracy_drop"]) < 0.05
    assert sorted(metrics["quick_checkpoints"]) == ["digit", "sentiment", "translate"]
    assert all(r["server_cpu_ms"] > 0 and r["client_cpu_ms"] > 0 for r in metrics["load_test"].values())
    digit = metrics["load_test"]["숫자 (16)"]
    assert digit["client_cpu_ms"] < digit["server_cpu_ms"]  # 부하 생성기가 서버보다 가벼워야 서버를 재는 것
    assert metrics["server_stack"] == server_stack()
    assert (serving_run / "09_model_serving-quick" / "load_test.png").is_file()


def test_models_load_once_and_missing_ones_name_their_command(models):
    assert {n for n, m in models.items() if "model" in m} >= {"digit", "sentiment", "translate"}
    assert all(models[n]["quick"] for n in ("digit", "sentiment", "translate"))
    assert models["detect"]["note"] == ("아직 학습한 모델이 없습니다. 먼저 'python 06_yolo_object_detection.py' 를 "
                                        "실행하세요 (빠르게: --quick).")
    assert not models["sentiment"]["korean"]  # 이 테스트는 IMDB 모델을 학습합니다 (한국어 장은 따로 테스트)


def test_quick_training_only_for_missing_models(tmp_path, monkeypatch):
    """--quick 에서만, 체크포인트가 없을 때만 학습합니다. 한국어 리뷰 모델이 있으면 04장(IMDB)은 학습하지 않습니다."""
    monkeypatch.setattr(serving.subprocess, "run", lambda *a, **k: pytest.fail("학습하면 안 됩니다"))
    (tmp_path / f"{serving.KOREAN_REVIEWS}-quick").mkdir()
    (tmp_path / f"{serving.KOREAN_REVIEWS}-quick" / "checkpoint.pt").write_bytes(b"")
    quick, full = (argparse.Namespace(quick=q, out_dir=str(tmp_path), data_dir=None) for q in (True, False))
    serving.train_quick(serving.REVIEWS, quick)
    serving.train_quick(serving.DIGITS, full)
    with pytest.raises(pytest.fail.Exception):
        serving.train_quick(serving.DIGITS, quick)


def test_good_requests(client, models):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"]["digit"]["ready"] and not health["models"]["detect"]["ready"]
    digit = client.post("/api/digit", files={"file": ("7.png", serving.demo_png(), "image/png")}).json()
    assert len(digit["probabilities"]) == 10 and abs(sum(digit["probabilities"]) - 1) < 1e-3
    assert digit["label"] == max(range(10), key=digit["probabilities"].__getitem__) == 7
    review = client.post("/api/sentiment", json={"text": "A wonderful, moving film."}).json()
    assert review["label"] in ("긍정", "부정") and 0.5 <= review["probability"] <= 1
    translated = client.post("/api/translate", json={"text": serving.GERMAN_12_WORDS}).json()["translation"]
    entry = models["translate"]
    expected = lesson("08_transformer_nlp").translate_sentences(entry["model"], entry["tokenizer"],
                                                                [serving.GERMAN_12_WORDS], torch.device("cpu"), beam=5)
    assert translated == expected[0] and translated
    assert "/docs" not in [r.path for r in client.app.routes] and "/api/digit" in client.get("/openapi.json").json()["paths"]


def test_sentiment_batch_keeps_each_answer_with_its_text(models):
    predict = serving.sentiment_answers(models["sentiment"])
    texts = ["A wonderful, moving film.", "Terrible. Boring and awful, a waste of time.", "great great great"]
    alone = [predict([t])[0]["probability"] for t in texts]
    together = [a["probability"] for a in predict(texts)]
    assert together == pytest.approx(alone, abs=1e-4)


BAD = [(title, method, url, kwargs) for title, method, url, kwargs in serving.BAD_REQUESTS] + [
    ("파일 없음", "post", "/api/digit", {"data": {"x": "1"}}),
    ("JSON 아님", "post", "/api/sentiment", {"content": b"{text:", "headers": {"content-type": "application/json"}}),
    ("문자열 아님", "post", "/api/translate", {"json": {"text": 5}}),
    ("음수 시드", "post", "/api/generate", {"json": {"seed": -1}}),
    ("빈 파일", "post", "/api/digit", {"files": {"file": ("a.png", b"", "image/png")}}),
    ("문서 페이지 없음", "get", "/docs", {}),
    ("모델 없음", "post", "/api/detect", {"files": {"file": ("a.png", serving.demo_png(), "image/png")}}),
]
EXPECTED = {
    "텍스트 파일을 이미지로": (415, "이미지 파일이 아닙니다. PNG·JPEG 같은 이미지를 올려 주세요."),
    "빈 리뷰": (422, "요청이 올바르지 않습니다: text: 빈 텍스트입니다. 글을 입력해 주세요."),
    "2,001자 리뷰": (422, "요청이 올바르지 않습니다: text: 너무 깁니다 (최대 2,000자)"),
    "항목 이름이 틀림": (422, "요청이 올바르지 않습니다: text: 항목이 없습니다"),
    "6 MB 업로드": (413, "요청이 너무 큽니다 (최대 5 MB). 더 작은 파일을 보내 주세요."),
    "없는 주소": (404, "없는 주소입니다."),
    "파일 없음": (422, "요청이 올바르지 않습니다: file: 항목이 없습니다"),
    "JSON 아님": (422, "요청이 올바르지 않습니다: 요청 본문이 올바른 JSON 이 아닙니다"),
    "문자열 아님": (422, "요청이 올바르지 않습니다: text: 문자열이어야 합니다"),
    "음수 시드": (422, "요청이 올바르지 않습니다: seed: 0 이상이어야 합니다"),
    "빈 파일": (422, "빈 파일입니다. 이미지 파일(PNG·JPEG)을 올려 주세요."),
    "문서 페이지 없음": (404, "없는 주소입니다."),
    "모델 없음": (503, "아직 학습한 모델이 없습니다. 먼저 'python 06_yolo_object_detection.py' 를 실행하세요 (빠르게: --quick)."),
}


@pytest.mark.parametrize("title,method,url,kwargs", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_one_korean_line(client, title, method, url, kwargs):
    response = getattr(client, method)(url, **kwargs)
    assert (response.status_code, response.json()) == (EXPECTED[title][0], {"detail": EXPECTED[title][1]})


def test_time_limit_504_and_full_queue_503():
    """배처가 멈춰 있으면 첫 요청은 시간 제한(504)에 걸리고, 그 자리를 차지한 대기열 때문에 다음 요청은 바로 503."""
    stuck = MicroBatcher(lambda items: items, max_queue=1)   # start() 하지 않음 (lifespan 없이)
    client = TestClient(create_app({"sentiment": Service("sentiment", stuck)}, timeout=0.2))
    first = client.post("/api/sentiment", json={"text": "hello"})
    assert (first.status_code, first.json()["detail"]) == (504, "처리 시간이 0.2초를 넘었습니다. 더 짧은 입력으로 다시 시도해 주세요.")
    second = client.post("/api/sentiment", json={"text": "hello"})
    assert (second.status_code, second.json()["detail"]) == (503, "서버가 바쁩니다 (대기열이 가득 찼습니다). 잠시 뒤 다시 시도해 주세요.")


def test_model_errors_are_500_in_korean_without_traceback():
    broken = MicroBatcher(lambda items: [1 / 0 for _ in items])
    with TestClient(create_app({"translate": Service("translate", broken)}), raise_server_exceptions=False) as c:
        response = c.post("/api/translate", json={"text": "Hallo"})
    assert (response.status_code, response.json()) == (500, {"detail": "서버 내부 오류입니다. 서버 로그를 확인하세요."})


def test_export_matches_eager(models, tmp_path):
    _, digit_diff = serving.export_digits(models["digit"]["model"], tmp_path)
    path, review_diff = serving.export_reviews(models["sentiment"]["model"], tmp_path)
    assert digit_diff < 1e-4 and review_diff < 1e-4
    int8 = serving.quantize_reviews(path)
    assert int8.stat().st_size < path.stat().st_size / 2  # 가중치가 8비트 정수로


def test_micro_batcher_answers_each_caller_under_concurrency():
    def slow_double(items):
        time.sleep(0.005)
        return [x * 2 for x in items]

    batcher = MicroBatcher(slow_double, max_batch=16, max_wait_ms=5).start()
    results = {}

    def call(i):
        results[i] = batcher.submit(i).result(timeout=10)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.stop()
    assert results == {i: 2 * i for i in range(200)}
    assert max(batcher.batch_sizes) > 1 and sum(batcher.batch_sizes) == 200 and max(batcher.batch_sizes) <= 16


def test_failing_request_does_not_break_its_batch():
    def checked(items):
        if any(x < 0 for x in items):
            raise ValueError("음수는 계산할 수 없습니다")
        return [x + 1 for x in items]

    batcher = MicroBatcher(checked, max_batch=8)
    futures = [batcher.submit(x) for x in [1, 2, -3, 4]]   # 시작 전에 넣어 모두 한 배치에 들어가게
    batcher.start()
    assert [f.result(timeout=5) for i, f in enumerate(futures) if i != 2] == [2, 3, 5]
    with pytest.raises(ValueError, match="음수"):
        futures[2].result(timeout=5)
    batcher.stop()
    assert batcher.batch_sizes[0] == 4


def test_full_queue_refuses_at_once():
    batcher = MicroBatcher(lambda items: items, max_queue=2)
    batcher.submit(1)
    batcher.submit(2)
    with pytest.raises(QueueFull):
        batcher.submit(3)


def test_host_warning_only_when_exposed():
    from utils.serving import exposure_warning

    assert exposure_warning("127.0.0.1") is None and exposure_warning("localhost") is None
    assert exposure_warning("0.0.0.0").startswith("[경고] --host 0.0.0.0: 이 컴퓨터 밖에서도")


def test_load_generator_sends_the_real_request_and_counts_errors():
    """가벼운 부하 생성기: multipart 업로드가 서버에 그대로 닿고(예열 1 + 잰 요청 수), 200 이 아닌 답은 오류로 셉니다."""
    app, sizes = FastAPI(), []

    @app.post("/upload")
    async def upload(file: UploadFile = File()):
        sizes.append(len(await file.read()))
        return {"size": sizes[-1]}

    @app.post("/teapot")
    async def teapot():
        raise HTTPException(418, "찻주전자")

    upload_request = {"files": {"file": ("digit.png", bytes(range(256)) * 40, "image/png")}}
    with BackgroundServer(app) as server:
        ok = asyncio.run(generate_load(f"{server.url}/upload", upload_request, 3, 0.3))
        bad = asyncio.run(generate_load(f"{server.url}/teapot", {"json": {"a": 1}}, 2, 0.2))
    assert ok["errors"] == 0 and ok["requests"] >= 3 and ok["rps"] > 0
    assert sizes == [10240] * (ok["requests"] + 1)
    assert bad["requests"] == 0 and bad["errors"] >= 2
