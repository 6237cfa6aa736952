"""09장 웹 페이지를 실제 브라우저(데비안 chromium 패키지 + Playwright)로: 숫자 그리기, 리뷰, 번역, 잘못된 업로드.

브라우저는 내려받지 않습니다 (`playwright install` 금지): PATH 의 chromium 을 쓰고, 없으면 로컬에서는 건너뛰지만
CI(환경 변수 CI=true)에서는 실패합니다 (.ci/run 이 apt-get 으로 chromium·fonts-nanum 을 설치).
"""
from __future__ import annotations

import os

import pytest

from conftest import lesson
from utils.serving import BackgroundServer, chromium_page, create_app, find_chromium, screenshot_page

serving = lesson("09_model_serving")


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        message = "chromium 이 없습니다 (apt-get install -y chromium fonts-nanum)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def server(serving_run):
    with BackgroundServer(create_app(serving.build_services(serving.load_all(serving_run)))) as s:
        assert s.url.startswith("http://127.0.0.1:")
        yield s


@pytest.fixture
def page(chromium, server):
    with chromium_page(chromium) as p:
        p.goto(server.url + "/")
        p.wait_for_selector("#model-status li.ready")
        yield p


def test_draw_a_digit_and_see_the_prediction(page):
    from utils.serving import draw_digit_seven

    draw_digit_seven(page)
    page.click("#digit-predict")
    assert page.locator("#digit-label").text_content(timeout=10_000) == "7"
    assert page.locator("#digit-result .bar").count() == 10


def test_review_and_translation(page):
    page.fill("#review-text", "A wonderful, moving film.")
    page.click("#review-submit")
    assert page.locator("#review-result .big").text_content(timeout=10_000).startswith(("긍정", "부정"))
    page.click("#translate-submit")
    assert page.locator("#translate-result .big").text_content(timeout=20_000).strip()


def test_empty_review_and_non_image_show_korean_errors(page, tmp_path):
    page.fill("#review-text", "")
    page.click("#review-submit")
    assert page.locator("#review-result .error").text_content(timeout=10_000) == \
        "요청이 올바르지 않습니다: text: 빈 텍스트입니다. 글을 입력해 주세요."
    note = tmp_path / "메모.txt"
    note.write_text("이미지가 아닙니다", encoding="utf-8")
    page.set_input_files("#photo-file", str(note))
    assert page.locator("#photo-result .error").text_content(timeout=10_000) == \
        "이미지 파일이 아닙니다. PNG·JPEG 같은 이미지를 올려 주세요."
    status = page.locator("#model-status li.missing").first.text_content()
    assert "python 06_yolo_object_detection.py" in status


def test_page_makes_no_outside_requests(chromium, server):
    """오프라인: 페이지가 부르는 주소는 모두 같은 서버(같은 출처)입니다."""
    with chromium_page(chromium) as p:
        urls = []
        p.on("request", lambda r: urls.append(r.url))
        p.goto(server.url + "/")
        p.wait_for_selector("#model-status li.ready")
    assert urls and all(u.startswith(server.url) for u in urls)


def test_screenshot_of_the_working_page(chromium, server, tmp_path):
    shot = screenshot_page(server.url, tmp_path / "page.png", review="A wonderful, moving film.")
    from PIL import Image

    with Image.open(shot) as image:
        assert image.width == 1280 and image.height > 600
