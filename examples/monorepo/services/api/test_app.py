import unittest

from app import answer


class AnswerTest(unittest.TestCase):
    def test_answers_as_the_api(self) -> None:
        self.assertEqual(answer("you"), "[api] Hello, you!")


if __name__ == "__main__":
    unittest.main()
