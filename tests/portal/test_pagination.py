"""Page links: a handful around the current page, however many pages."""

from django.core.paginator import Paginator

from portal.templatetags.portal_ui import page_window


def test_a_window_around_the_page_with_gaps():
    paginator = Paginator(range(50_000), 25)  # 2,000 pages
    assert page_window(paginator.page(1)) == [1, 2, 3, None, 2000]
    assert page_window(paginator.page(1000)) == [1, None, 998, 999, 1000, 1001, 1002, None, 2000]
    assert page_window(paginator.page(2000)) == [1, None, 1998, 1999, 2000]


def test_few_pages_are_all_shown():
    paginator = Paginator(range(100), 25)
    assert page_window(paginator.page(2)) == [1, 2, 3, 4]
