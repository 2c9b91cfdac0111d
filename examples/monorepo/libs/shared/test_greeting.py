import unittest

from greeting import greeting


class GreetingTest(unittest.TestCase):
    def test_names_the_person(self) -> None:
        self.assertEqual(greeting("ci-bot"), "Hello, ci-bot!")

    def test_an_empty_name_greets_the_world(self) -> None:
        self.assertEqual(greeting("  "), "Hello, world!")


if __name__ == "__main__":
    unittest.main()
