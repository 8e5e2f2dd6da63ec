"""What a search request asks for: the words that carry its meaning, without the phrasing around them.

People ask "Can you find me a dataset with the average property prices in London?". The words that
decide the answer are "average property prices"; "can you find me a dataset with … in London" is
the same in every request (and "London" is in nearly every entry of a London registry), so ranking
on it only adds noise. :func:`understand` keeps the content words, and when a request is nothing
but such words (``"london data"``) it keeps them all rather than search for nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from explorer.catalogue.synonyms import normalise, query_synonyms

_WORD_RE = re.compile(r"[\w£€$%][\w£€$%.'\-]*", re.UNICODE)

# English function words (a short list in the spirit of the usual IR stop lists).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
down during each either else ever every few for from further get gets getting got had hadn't has
hasn't have haven't having he her here hers herself him himself his how however i i'd i'll i'm
i've if in into is isn't it it's its itself just let's like ll me might more most much must my
myself neither no nor not now of off on once only or other ought our ours ourselves out over own
per please re same shall she should shouldn't so some such than that that's the their theirs them
themselves then there there's these they they'd they'll they're they've this those through to too
under until up upon us ve very via was wasn't we we'd we'll we're we've were weren't what what's
when where where's whether which while who who's whom whose why will with within without won't
would wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves also teh
""".split())

# Words of asking for data: they say a request is a request, not what it is about.
REQUEST_WORDS = frozenset("""
find finding found look looking search searching need needs needed want wanted wants wanting
seek seeking provide providing give giving show showing tell know get obtain
download downloading help anyone anything something somewhere available publicly public-facing
dataset datasets data database databases statistics stats stat figures figure numbers
information info source sources record records file files table tables spreadsheet csv
thanks thank hi hello kindly possible possibly currently recent latest current updated
exist exists existing idea ideas interested wondering wonder whereabouts after trying try
regarding related relating relate concerning specific particular detailed details including
london london's londoners greater uk england britain british
shows describe describing describes covering
d like love appreciate point able go going lot lots many much across number numbers
datastore portal catalogue registry website site last level levels
""".split())


@dataclass
class Understood:
    """A request taken apart: ``words`` decide the ranking; ``dropped`` were phrasing."""

    text: str
    words: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)   # other names of what was asked for

    @property
    def phrase(self) -> str:
        """The content of the request as text: what the semantic model reads."""
        return " ".join(self.words + self.synonyms)


MAX_CHARS = 1000   # a request longer than this is read up to here (bounded work for any input)
MAX_WORDS = 32     # content words kept from one request
MAX_WORD = 60      # longer "words" are not words


def words_of(text: str) -> list[str]:
    out = []
    for raw in _WORD_RE.findall(normalise((text or "")[:MAX_CHARS]).lower().replace("’", "'")):
        word = raw.strip(".'-")
        if word.endswith("'s"):
            word = word[:-2]
        if word and len(word) <= MAX_WORD:
            out.append(word)
    return out


def understand(text: str) -> Understood:
    words = words_of(text)
    content = [w for w in words if w not in STOP_WORDS and w not in REQUEST_WORDS]
    if not content:  # nothing but phrasing ("london data"): keep what is not a function word
        content = [w for w in words if w not in STOP_WORDS] or words
    content = list(dict.fromkeys(content))[:MAX_WORDS]
    dropped = [w for w in dict.fromkeys(words) if w not in content]
    return Understood(text=text, words=content, dropped=dropped,
                      synonyms=query_synonyms(" ".join(content)))
