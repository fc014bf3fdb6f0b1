"""Pagination that the front end understands: it reads ``results`` and ignores ``next``."""
from rest_framework.pagination import PageNumberPagination


class ResultsPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000
