"""English names written as one word or with a bare middle initial (issue 22, measured on an outside
corpus: most of its leaked names were a given name alone, a list of names, a chat's speaker or
``First M Last``). Examples written for these tests, each mechanism with distractors of its shape."""
from __future__ import annotations

import pytest

from dms_magic.masking import detect, mask


def names_in(text: str) -> list[str]:
    return [text[d.start:d.end] for d in detect(text) if d.entity.endswith("_NAME")]


@pytest.mark.parametrize("text, names", [
    ("The keys are with Harold until noon.", ["Harold"]),  # mid-sentence, after a lower-case word
    ("Thanks again, asked Miriam of the clerk.", ["Miriam"]),
    ("Wendell has the spare keys.", ["Wendell"]),  # sentence start + a person's doing
    ("Ok. Gloria, could you sign here?", ["Gloria"]),  # addressed by name
    ("I passed the note to Priscilla yesterday", ["Priscilla"]),  # "to" after a verb of giving
    ("Our tutors: Agnes, Vernon, Kowalczyk and Ruth.", ["Agnes", "Vernon", "Kowalczyk", "Ruth"]),
    ("Hollis: Where were you?\nBertrand: At the lake.", ["Hollis", "Bertrand"]),
    ("Zdravko: is anyone there?\nGeraldine: yes, me.", ["Zdravko", "Geraldine"]),  # beside a known speaker
    ("My name is Ondrasek", ["Ondrasek"]),  # after a naming cue
    ("Signed by Loretta P Vasquez on arrival", ["Loretta P Vasquez"]),  # initial without a dot
    ("Ivanka T. Horvathova joined in March", ["Ivanka T. Horvathova"]),  # unknown names around an initial
    ("Hi Zorion, the parcel is here.", ["Zorion"]),  # a greeting addresses a person
    ("Dear Wilhelmina!", ["Wilhelmina"]),
    ("Then Oscar waved at Beatrice and left.", ["Oscar", "Beatrice"]),  # waved at X
    ('Hollis:"Where were you?"', ["Hollis"]),  # a speaker with the quote glued to the colon
    ("She said: I'm Rosalind, the new tenant.", ["Rosalind"]),  # I'm + a given name; I'm itself no name
    ('"Prices will fall," says Wrobelski.', ["Wrobelski"]),  # says X at the end of a sentence
    ("Please add my nephew Teodor to the policy.", ["Teodor"]),  # a family role before one word
    ("Ok, see you, Kelly!", ["Kelly"]),  # addressed: a given name that is a frequent surname too
    ("Harriet: hi\nPatience: hello", ["Harriet", "Patience"]),  # an everyday-word name beside a known speaker
])
def test_one_word_names_and_bare_initials_are_found(text, names):
    assert names_in(text) == names
    masked = mask(text).text
    for name in names:
        assert name not in masked


def test_a_one_word_name_is_masked_at_every_mention():
    text = "Remember me, Harold? Harold never forgets a face."
    assert "Harold" not in mask(text).text


@pytest.mark.parametrize("text", [
    "We flew to Charlotte for the conference.",  # a city after a place preposition
    "The office in Marion closed early.",
    "Morgan Stanley raised its forecast.",  # a given name inside a run of capitalised words
    "Hudson, Pierce and Whitfield is a law firm in town.",  # surnames only: a firm as often as people
    "Paris, Berlin and Madrid are on the list.",
    "Note: the build is green.\nWarning: disk almost full.",  # labels, not a chat
    "France was fun to visit, German food too.",
    "In Estonia the winters are long.",
    "Take Vitamin B Complex with water.",  # an initial inside a product name
    "Plan B Ventures raised money.",
    "Victoria Station is busy; May was warm.",
    "Hello World! Hi All, welcome.",
    "We met at Marion Station.",
    "I'm Sorry I'm Late is a song.",
    "The outlook darkened, says Reuters.",
    "He said Monday, not Tuesday.",
    "Add my friend Google Maps to the list.",
    "The Murphy account, as agreed.",
])
def test_distractors_of_those_shapes_stay_untouched(text):
    assert names_in(text) == []
    assert mask(text).text == text


# -- two capitalised words no list knows, with a person's context before or after them ---------------

@pytest.mark.parametrize("text, name", [
    ("The last word goes to Oyelaran Adebisi, says Teodora Vasquez.", "Teodora Vasquez"),  # says X
    ("Oyelaran Adebisi will present the budget.", "Oyelaran Adebisi"),
    ("Produced by:  Radomir Kulesza", "Radomir Kulesza"),
    ("The ticket is under Thorvald Ekberg", "Thorvald Ekberg"),
    ("Ingibjörg Sæmundsdóttir, the head nurse, signed it.", "Ingibjörg Sæmundsdóttir"),
])
def test_two_unknown_names_with_a_persons_context_are_a_name(text, name):
    assert name in names_in(text)
    assert name not in mask(text).text


@pytest.mark.parametrize("text", [
    "Galvanic Corporation is based in Oslo.",
    "The Northwind Orchestra was founded in 1950.",
    "Tickets for the Coldwater Lanterns will sell out.",
    "Brightline Research is hiring.",
    "Lopez, Santos and Coleman is a law firm.",  # surnames of a firm, mid-sentence
])
def test_firms_and_things_in_those_places_stay(text):
    assert names_in(text) == []


# -- a text typed all in lower case: the cue and speaker finders read it capitalised ------------------

@pytest.mark.parametrize("text, names", [
    ("hello, my name is saoirse brennan and i lost my card", ["saoirse brennan"]),
    ("please ask mr. oduya about the refund", ["oduya"]),
    ('tomasz: "are you there?"\nmargaret: "yes"', ["tomasz", "margaret"]),
])
def test_names_after_a_cue_in_a_lower_case_text(text, names):
    assert names_in(text) == names


@pytest.mark.parametrize("text", [
    "the product name is super widget",
    "see ms.example.com for the docs",
    "note: the build is green\nstatus: all good",
    "call me when you are free, i will be home",
])
def test_lower_case_text_without_a_name_stays(text):
    assert names_in(text) == []


# -- a contact block's first line; "of <Company>", "as a <role>", "name?" ----------------------------

@pytest.mark.parametrize("text, name", [
    ("Radka Novotná\nKvětinová 12\n602 00 Brno", "Radka Novotná"),
    ("Thanks!\n\nOrsolya Bakos\nSenior buyer\norsolya.b@example.net", "Orsolya Bakos"),
    ("Speakers include Wojciech Zielonka of Brightwave Ltd.", "Wojciech Zielonka"),
    ("Please add Ignatius Mbeki as a co-signer.", "Ignatius Mbeki"),
    ("What's your name? Dagny Ostrem", "Dagny Ostrem"),
])
def test_contact_block_and_context_names(text, name):
    assert name in names_in(text)
    assert name not in mask(text).text


@pytest.mark.parametrize("text", [
    "Quarterly Results\n\nRevenue grew 12%\nCall 555 0142 7788 for details",
    "Shipping Policy\n\nOrders ship from 12 Main Street",
    "Bank of America raised rates.",
])
def test_headings_above_contact_lines_stay(text):
    assert names_in(text) == []
