import unittest

from app import answer


class AnswerTest(unittest.TestCase):
    def test_answers_as_the_web(self) -> None:
        self.assertEqual(answer("you"), "[web] Hello, you!")


if __name__ == "__main__":
    unittest.main()
