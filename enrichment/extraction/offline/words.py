"""Word lists of the offline extractor and the alternations built from them."""

from __future__ import annotations

import re

# --- vocabulary ------------------------------------------------------------------

_PET_NOUNS = (
    "dog|dogs|puppy|puppies|cat|cats|kitten|kittens|parrot|parrots|hamster|hamsters|rabbit|rabbits|bunny"
    "|horse|horses|snake|snakes|turtle|turtles|goldfish|fish|lizard|gecko|guinea "
    "pig|ferret|bird|birds|pup|kitty|retriever|labrador|lab|terrier|spaniel|shepherd|greyhound"
    "|poodle|beagle|corgi|husky|collie|bulldog|dachshund|chihuahua|pug|tabby|budgie|cockatiel"
    "|tortoise|pony|mutt|rescue"
)
_RELATION_NOUNS: dict[str, str] = {
    **dict.fromkeys(
        (
            "sister",
            "sisters",
            "brother",
            "brothers",
            "sibling",
            "siblings",
            "twin",
            "stepbrother",
            "stepsister",
            "half-brother",
            "half-sister",
        ),
        "has_sibling",
    ),
    **dict.fromkeys(
        (
            "son",
            "sons",
            "daughter",
            "daughters",
            "kid",
            "kids",
            "child",
            "children",
            "baby",
            "boy",
            "girl",
            "twins",
        ),
        "has_child",
    ),
    **dict.fromkeys(
        (
            "wife",
            "husband",
            "partner",
            "girlfriend",
            "boyfriend",
            "fiance",
            "fiancé",
            "fiancee",
            "fiancée",
            "spouse",
        ),
        "partner",
    ),
    **dict.fromkeys(
        (
            "mom",
            "mum",
            "mother",
            "dad",
            "father",
            "parents",
            "stepmom",
            "stepmum",
            "stepdad",
            "stepmother",
            "stepfather",
        ),
        "has_parent",
    ),
    **dict.fromkeys(
        (
            "grandma",
            "grandmother",
            "grandad",
            "granddad",
            "gran",
            "granny",
            "nan",
            "nana",
            "nanna",
            "grandmum",
            "grandmom",
            "grandpop",
            "auntie",
            "aunty",
            "aunts",
            "uncles",
            "nieces",
            "nephews",
            "grandpa",
            "grandfather",
            "aunt",
            "uncle",
            "cousin",
            "niece",
            "nephew",
            "grandparents",
            "mother-in-law",
            "father-in-law",
            "sister-in-law",
            "brother-in-law",
            "in-laws",
            "grandson",
            "granddaughter",
            "grandkids",
            "stepson",
            "stepdaughter",
        ),
        "has_relative",
    ),
    **dict.fromkeys(("friend", "friends", "bestie", "buddy", "bff"), "friend_of"),
    **dict.fromkeys(("gf", "bf", "hubby", "wifey", "fiancee"), "partner"),
    **dict.fromkeys(("bro", "sis"), "has_sibling"),
    **dict.fromkeys(
        ("boss", "coworker", "co-worker", "colleague", "manager", "teammate", "mentor"), "colleague"
    ),
    **dict.fromkeys(_PET_NOUNS.split("|"), "has_pet"),
    # People one names and tells about, with no relation fact of their own ("").
    **dict.fromkeys(
        (
            "roommate",
            "flatmate",
            "housemate",
            "neighbour",
            "neighbor",
            "landlord",
            "landlady",
            "classmate",
            "client",
            "student",
            "patient",
            "ex",
        ),
        "",
    ),
}
# Plurals read as their singular ("my cousins live in Accra", "my coworkers are…").
_RELATION_NOUNS.update(
    {
        f"{noun}s": predicate
        for noun, predicate in list(_RELATION_NOUNS.items())
        if not noun.endswith(("s", "x")) and f"{noun}s" not in _RELATION_NOUNS
    }
)
_RELATION_ALT = "|".join(sorted((re.escape(k) for k in _RELATION_NOUNS), key=len, reverse=True))
_RELATION_MODIFIERS = (
    r"(?:(?:best|older|younger|little|big|baby|twin|oldest|youngest|eldest|new|old|step|late|ex|"
    r"two|three|\w+-year-old)\s+)*"
)

# Occupation nouns by suffix or by name; "I'm a X" with such a head is a job title.
_JOB_WORDS = frozenset(
    "nurse doctor teacher engineer developer designer lawyer accountant scientist programmer "
    "consultant "
    "analyst writer chef cook counselor counsellor therapist architect photographer researcher "
    "professor "
    "pharmacist electrician mechanic barista pilot firefighter officer cop dentist surgeon "
    "paramedic "
    "librarian journalist editor manager director ceo cto founder entrepreneur freelancer "
    "contractor "
    "plumber carpenter farmer banker economist psychologist psychiatrist pediatrician "
    "veterinarian vet "
    "artist musician actor actress dancer singer student intern tutor coach trainer recruiter "
    "realtor "
    "cashier waiter waitress bartender driver clerk secretary assistant administrator technician "
    "marketer salesperson sales investor attorney paralegal translator illustrator animator "
    "sysadmin devops scrum owner lead principal architect stylist hairdresser baker butcher "
    "postdoc seamstress tailor miner porter janitor cleaner welder builder electrician "
    "midwife nanny carer caregiver lecturer instructor surveyor broker agent soldier sailor "
    "detective judge physio dietitian courier receptionist chemist teller underwriter "
    "programmer coder firefighter guard housekeeper fisherman fireman policeman policewoman "
    "postman mailman salesman saleswoman businessman businesswoman handyman repairman "
    "tradesman craftsman chairman chairwoman spokesperson teacher lawyer farmer painter "
    "gardener roofer trucker logger welder bookkeeper cleaner dispatcher translator "
    "interpreter copywriter producer composer conductor filmmaker director curator "
    "pastor priest rabbi imam minister vicar nun monk mechanic machinist technologist "
    "hygienist sonographer radiographer optometrist physiotherapist paramedic emt medic "
    "caretaker custodian bouncer security doorman lifeguard ranger warden zookeeper "
    "groomer florist jeweler jeweller cobbler potter blacksmith landscaper estimator "
    "auditor actuary strategist planner coordinator supervisor foreman apprentice "
    "resident fellow registrar sommelier chef barber beautician cosmetologist "
    "manicurist masseuse masseur model influencer streamer youtuber blogger vlogger "
    "copyeditor proofreader reporter anchor broadcaster dj servicer server host hostess "
    "dishwasher busboy stocker picker packer loader forklift operator labourer laborer".split()
)
_JOB_SUFFIX_RE = re.compile(r"(?:ist|ian|eer|ologist|ographer|grapher)$")
_NATIONALITIES = frozenset(
    "american canadian mexican brazilian argentinian chilean colombian peruvian british english "
    "scottish "
    "welsh irish french german dutch belgian swiss austrian italian spanish portuguese greek "
    "turkish "
    "polish czech slovak hungarian romanian bulgarian ukrainian russian swedish norwegian danish "
    "finnish "
    "icelandic estonian latvian lithuanian serbian croatian israeli egyptian moroccan nigerian "
    "kenyan "
    "ghanaian ethiopian south african indian pakistani bangladeshi sri lankan nepali chinese "
    "japanese "
    "korean vietnamese thai filipino indonesian malaysian singaporean australian iranian iraqi "
    "lebanese syrian saudi emirati jamaican cuban".split()
)
_LANGUAGES = frozenset(
    "english spanish french german italian portuguese dutch swedish norwegian danish finnish "
    "polish "
    "russian ukrainian greek turkish arabic hebrew hindi urdu bengali punjabi tamil mandarin "
    "cantonese "
    "chinese japanese korean vietnamese thai indonesian malay tagalog swahili persian farsi czech "
    "hungarian romanian icelandic catalan basque welsh irish latin sign asl".split()
)
_DIETS = (
    r"vegetarian|vegan|pescatarian|pescetarian|keto|paleo|gluten[- ]free|plant[- ]based|"
    r"dairy[- ]free|halal|kosher|carnivore"
)
_EVENT_NOUNS = re.compile(
    r"\b(?:concert|conference|festival|party|support group|group|meetup|meet-up|workshop|class|"
    r"seminar|"
    r"game|match|show|wedding|funeral|parade|exhibition|exhibit|event|retreat|camp|fair|rally|"
    r"march|"
    r"ceremony|gala|convention|hackathon|talk|lecture|service|session|recital|performance|play|"
    r"musical|"
    r"race|marathon|tournament|competition|fundraiser|club|meeting|graduation|reunion|course|"
    r"pride)\b",
    re.IGNORECASE,
)
_DRUG_RE = re.compile(
    r"\b(?:\w+(?:in|ol|ide|ine|pril|statin|sartan|mab|zole|cillin|formin|profen|azepam|pam|one|"
    r"xetine|ium|cycline)"
    r"|insulin|vitamin \w+|vitamins|meds|medication|pills?|supplements?|antidepressants?|"
    r"\d+\s?mg)\b",
    re.IGNORECASE,
)

# Words after which an object stops: clause glue, not part of the thing named.
_OBJECT_STOP_RE = re.compile(
    r"\s*(?:[,;:!?()]|(?<!\b[a-z])(?<!\bst)(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bdr)(?<!\bjr)"
    r"(?<!\.[a-z]{2})\.(?:\s|$)|\s?[-–—]\s|\s(?:and|but|because|cause|so|since|when|while|which|"
    r"who|whom|"
    r"where|although|though|after|before|until|if|unless|as well|in order|to be honest|"
    r"lately|right now|these days|nowadays|this time|at the moment|for now|as an? (?:kid|child|"
    r"teen|teenager|student)|"
    r"for (?:a while|a bit|a long time|a few|a couple|about|over|almost|nearly|the past|\d+|one|"
    r"two|three|four|five|"
    r"six|seven|eight|nine|ten|many|several|years|months|weeks|days|ages|fun|work|my birthday)|"
    r"with (?:the kids|(?:my|our|his|her|their) )|in my (?:spare|free|down) time|"
    r"for (?:all )?(?:my|our) |(?<=\w\s)to (?:make|see|go|get|pay|save|help)\b|"
    r"that (?:i|we|is|was|are|were|it)|it was|it's|which was)\b)",
    re.IGNORECASE,
)
_TRAILING_JUNK_RE = re.compile(
    r"(?:\s+(?:too|as well|again|anymore|any more|a lot|so much|very much|really|now|already|"
    r"today|yesterday|tonight|tomorrow|recently|lately|soon|someday|though|haha|lol|though|"
    r"every (?:day|morning|evening|night|week|weekend|month|year)|each (?:day|morning|week)|"
    r"on weekends|at weekends|daily|weekly|these days|in a while|once a week|twice a week|"
    r"on (?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays)|"
    r"on the (?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|last) ?(?:try|attempt|go|time)?|"
    r"over the (?:holidays|weekend|summer|winter|years|break)|every other \w+|"
    r"most (?:days|nights|mornings|evenings|weekends|weeks)|"
    r"for (?:\d+|a few|a couple of|ten|twenty|thirty|forty|fifteen|five) (?:minutes|hours)|"
    r"someday|some day|instead|"
    r"(?:last|this|next)\s+(?:week|month|year|weekend|spring|summer|autumn|fall|winter|night|"
    r"term|semester|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:a few|a couple of|two|three|four|five|six|\d+)\s+(?:days|weeks|months|years)\s+ago|"
    r"(?:last|next|this|every) (?:spring|summer|fall|autumn|winter|season|semester|term)|"
    r"(?:in|since|from) (?:19|20)\d\d|for (?:years|ages|months|a while)|every|each|"
    r"(?:once|twice|three times|four times|\d+ times|a few times|several times) (?:a|per|every) "
    r"(?:day|week|month|year|night)|in the (?:mornings?|evenings?|afternoons?)|at night|"
    r"before (?:work|bed|breakfast)|after (?:work|school|dinner)|all day|at work|much|"
    r"on a whim|at all|every other|after all|with (?:him|her|them|us|me|you)|here|there))+\s*$",
    re.IGNORECASE,
)
_LEADING_ARTICLE_RE = re.compile(r"^(?:a|an|the|some)\s+", re.IGNORECASE)
_EMPTY_OBJECTS = frozenset(
    "it this that these those them him her me us you one ones so there here something anything "
    "everything "
    "nothing stuff things thing lot a lot fun more much well too all idea way time moment moments "
    "feeling "
    "feelings place people".split()
)

# Sentence-level and clause-level filters.
_CONDITIONAL_RE = re.compile(
    r"\b(?:if|unless|whether|in case|suppose|supposing|imagine|what if)\b", re.IGNORECASE
)
_HEDGE_RE = re.compile(
    r"\b(?:might|maybe|perhaps|possibly|probably|could|would|should|hopefully|"
    r"wish|"
    r"wonder|wondering|wondered|considering|consider|thinking about|thinking of|think about|"
    r"not sure|"
    r"unsure|debating|deciding|undecided|hypothetically|ought)\b|\b(?:i|you|we|he|she|they)['’]d\b"
    r"|(?<!\bin )(?<!\bof )(?<!\bsince )(?<!\buntil )(?<!\bearly )(?<!\blate )(?<!\bmid )"
    r"(?<!\bthis )"
    r"(?<!\bnext )(?<!\blast )\bmay\b(?!\s+\d)",
    re.IGNORECASE,
)
_QUESTION_START_RE = re.compile(
    r"^(?:do|does|did|are|is|was|were|can|could|would|should|will|shall|have|has|had|what|where|"
    r"when|who|"
    r"why|how|which|whose|wanna|any|anything)\b(?!\s+(?:i|we)\s+(?:was|am))",
    re.IGNORECASE,
)
_INTERJECTION_RE = re.compile(
    r"^(?:(?:yeah|yes|yep|yup|no|nope|oh|ooh|ah|aw|aww|wow|whoa|well|so|and|but|also|plus|anyway|"
    r"anyways|"
    r"actually|honestly|btw|by the way|fyi|haha+|hah|lol|lmao|omg|hey|hi|hello|ok|okay|sure|right|"
    r"true|"
    r"totally|absolutely|definitely|cool|great|awesome|nice|thanks|thank you|um+|uh+|hmm+|then|now|"
    r"guess what|fun fact|speaking of which|in fact|for sure|same here|me too|good news|oh and)"
    r"(?:\s*[,!.:;-]+\s*|\s+))+",
    re.IGNORECASE,
)
_LEADING_ADJUNCT_RE = re.compile(
    r"^(?P<adjunct>(?:(?:in|on|at|during|over|for|after|before|since|last|this|next|back in|"
    r"earlier|yesterday|"
    r"today|tonight|recently|lately|these days|nowadays|every|in my|on my|at my|when i was|"
    r"as a kid|"
    r"growing up)\b[^,]{0,40}?),?\s+)(?=(?:i|i'm|i've|i'll|we|we're|we've|my|our)\b)",
    re.IGNORECASE,
)

_SPEAKER_RE = re.compile(
    r"^[ \t]*(?P<name>[A-Z][\w'.-]{0,30}(?: [A-Z][\w'.-]{0,30})?)[ \t]?:[ \t]+(?=\S)"
)
_NOT_SPEAKERS = frozenset(
    "note noted ps p.s update edit re subject q a question answer tip warning example step "
    "summary reminder "
    "important fyi btw ok okay title date time location todo to do done result error output input "
    "http https "
    # headlines of an introduction ("Context: I'm a teacher", "Background: …")
    "context background intro introduction bio about info details profile recap "
    "status".split()
)
_USER_SPEAKERS = frozenset({"user", "me", "human", "customer"})
_BOT_SPEAKERS = frozenset({"assistant", "ai", "bot", "system", "claude", "chatgpt", "gpt"})
_NAME_STOPWORDS = frozenset(
    "the this that these those it there here what when where who why how which thanks thank yes "
    "no yeah wow oh "
    "hey hi hello well so and but also just maybe love sounds great good nice cool awesome sure "
    "ok okay "
    "painting being having let please sorry congrats congratulations happy glad hope anyway haha "
    "lol "
    "totally absolutely exactly definitely same today yesterday tomorrow tonight everyone "
    "everything "
    "nothing something someone somebody nobody life work family my your our his her their i you "
    "we they "
    "he she me us them user customer wait look see check remember guess".split()
)


def _forms(*bases: str) -> str:
    """An alternation of the inflected forms of regular verbs (live → lives, lived, living)."""
    forms: set[str] = set()
    for base in bases:
        forms.add(base)
        if base.endswith("e"):
            forms.update({base + "s", base + "d", base[:-1] + "ing"})
        elif base.endswith("y") and base[-2] not in "aeiou":
            forms.update({base[:-1] + "ies", base[:-1] + "ied", base + "ing"})
        elif base.endswith(("s", "sh", "ch", "x")):
            forms.update({base + "es", base + "ed", base + "ing"})
        else:
            forms.update({base + "s", base + "ed", base + "ing"})
            if re.search(r"[^aeiou][aeiou][bdgmnprt]$", base) and len(base) <= 4:
                forms.update({base + base[-1] + "ed", base + base[-1] + "ing"})
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


# Health: conditions named after "struggle with / live with / have", and adjectives that
# are one ("I'm diabetic").
_CONDITION_RE = re.compile(
    r"\b(?:insomnia|anxiety|depression|diabetes|asthma|migraines?|headaches|arthritis|adhd|"
    r"ocd|ptsd|cancer|ibs|crohn'?s|eczema|psoriasis|acne|pain|\w+itis|disorder|disease|"
    r"syndrome|high blood pressure|hypertension|(?:high )?cholesterol|apnea|apnoea|tinnitus|"
    r"vertigo|epilepsy|seizures|dyslexia|autism|long covid|fatigue|anaemia|anemia|"
    r"endometriosis|pcos|lupus|multiple sclerosis|parkinson'?s|alzheimer'?s|dementia|"
    r"addiction|alcoholism|burnout|panic attacks|bulimia|anorexia|allerg\w*|injury|"
    r"(?:bad|weak|dodgy|injured|broken|sprained|torn|sore|bum|chronic|trick|slipped)\s+"
    r"(?:knee|back|hip|shoulder|ankle|wrist|neck|elbow|foot|leg|arm|heart|stomach|disc)s?|"
    r"chronic \w+|heart condition|surgery|concussion|stroke|heart attack|"
    r"thyroid|hypothyroidism|scoliosis|gout|glaucoma|cataracts?)\b",
    re.IGNORECASE,
)
_CONDITION_ADJECTIVES = (
    r"pregnant|diabetic|pre-?diabetic|asthmatic|autistic|epileptic|anaemic|anemic|dyslexic|"
    r"deaf|hard of hearing|colou?r-?blind|bipolar|celiac|coeliac|immunocompromised|disabled|"
    r"paralyzed|paraplegic|insomniac|arthritic|hypertensive|neurodivergent|partially sighted|"
    r"short-?sighted|near-?sighted|long-?sighted|far-?sighted|in recovery|in remission"
)
# Professionals one has an appointment with.
_CARERS = (
    r"doctor|dentist|physio|physiotherapist|therapist|gp|dermatologist|chiropractor|optician|"
    r"optometrist|orthodontist|surgeon|specialist|cardiologist|psychiatrist|psychologist|"
    r"counsell?or|nutritionist|dietitian|osteopath|midwife|ob-?gyn|gynaecologist|gynecologist|"
    r"oncologist|podiatrist|audiologist|hygienist|allergist|neurologist|pediatrician|"
    r"paediatrician|urologist|acupuncturist|massage therapist|hairdresser|barber|vet|"
    r"personal trainer|tutor|lawyer|accountant|financial advisor"
)
_MEETING_NOUNS_RE = re.compile(
    r"^(?:(?:an?|my|our|the)\s+)?(?:[\w-]+\s+){0,2}(?:performance review|review|interview|"
    r"1:1|one-on-one|1-on-1|standup|stand-up|sync|meeting|call|catch-up|check-in|demo|"
    r"presentation|offsite|all-hands|retro|retrospective|kickoff|kick-off|pitch)\b",
    re.IGNORECASE,
)
