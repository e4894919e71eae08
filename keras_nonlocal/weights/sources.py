"""Where downloads come from: the hosts to try, and how to override them.

The hosts themselves are facts of the official files and live with them in
`keras_nonlocal.weights.presets.BASE_URLS`; this module turns them, or a
mirror given in the environment, into the list that `download.fetch` tries.
"""

import os

from keras_nonlocal.weights.presets import BASE_URLS

# URL schemes `weights=` accepts (fetched by `download.fetch_url`).
URL_SCHEMES = ("http://", "https://", "file://")

# Overrides `BASE_URLS` (comma or whitespace separated), e.g. for a mirror or a
# local test server.
BASE_URLS_ENV = "KERAS_NONLOCAL_WEIGHTS_BASE_URLS"


def base_urls(override=None):
    """The download hosts, in the order they are tried.

    Args:
        override: a list of base URLs, or a string of them separated by commas
            or whitespace. Defaults to the environment variable
            `KERAS_NONLOCAL_WEIGHTS_BASE_URLS`, then to `BASE_URLS`.

    Returns:
        A tuple of base URLs, each ending with `/`.

    Example:

    >>> base_urls("http://mirror.example/nl, http://other.example/")
    ('http://mirror.example/nl/', 'http://other.example/')
    """
    if override is None:
        override = os.environ.get(BASE_URLS_ENV) or None
    if override is None:
        urls = BASE_URLS
    elif isinstance(override, str):
        urls = override.replace(",", " ").split()
    else:
        urls = tuple(override)
    if not urls:
        raise ValueError(
            "At least one base URL is needed; received an empty list "
            f"(check ${BASE_URLS_ENV})."
        )
    return tuple(url if url.endswith("/") else url + "/" for url in urls)
