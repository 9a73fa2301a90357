"""The book's tooling, one module per job (bottom to top):

* :mod:`~gancourse.book.layout` — where sources, executed copies, the HTML and the run-time store live;
* :mod:`~gancourse.book.copies` — what an executed copy is made of, and the code digest tying it to its source;
* :mod:`~gancourse.book.run_times` — the run-time store ``book/run_times.json``;
* :mod:`~gancourse.book.report` — the run-info cell of each page and ``book/execution_report.md``;
* :mod:`~gancourse.book.execute` — papermill runs of the chapters: published, or cold for timing;
* :mod:`~gancourse.book.offline` and :mod:`~gancourse.book.build` — MathJax without a network, the HTML build;
* :mod:`~gancourse.book.sphinx_pages` — the Sphinx extension that keeps the pages free of JavaScript errors;
* :mod:`~gancourse.book.editions` — the student and instructor editions of the notebooks;
* :mod:`~gancourse.book.repository` — the repository URL in ``_config.yml`` and every Colab install cell.
"""
