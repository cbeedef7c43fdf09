"""HTML read as text (``connectors.reviews.strip_html``, used by Hacker News and the feeds), case by case."""

from __future__ import annotations

import pytest

from connectors.reviews import strip_html


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("First point.<p>Second point", "First point.\n\nSecond point"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("line one<br>line two<br/>line three", "line one\nline two\nline three"),
        ("I don&#x27;t &quot;know&quot; &gt; &lt;you&gt; &amp; me", 'I don\'t "know" > <you> & me'),
        ("and&#x2F;or", "and/or"),
        (
            "Code:<p><pre><code>  x = 1\n  if x &lt; 2:\n      y()\n</code></pre>After",
            "Code:\n\n  x = 1\n  if x < 2:\n      y()\n\nAfter",
        ),
        (
            'see <a href="https:&#x2F;&#x2F;example.com&#x2F;a&#x2F;long&#x2F;path" rel="nofollow">'
            "https:&#x2F;&#x2F;example.com&#x2F;a&#x2F;lo...</a> now",
            "see https://example.com/a/long/path now",
        ),
        ('the <a href="https://acme.example/docs">docs</a>.', "the docs (https://acme.example/docs)."),
        ('<a href="https://acme.example/">https://acme.example/</a>', "https://acme.example/"),
        ("The <b>Acme</b>   Hub&nbsp;...", "The Acme Hub ..."),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("plain  text\n\nsecond", "plain text\n\nsecond"),
        ("", ""),
        ("<p></p>", ""),
        ("unclosed <b>bold and <i>italic", "unclosed bold and italic"),
    ],
)
def test_html_reads_as_text(html, text):
    assert strip_html(html) == text
