"""nbgrader settings for this course. Run nbgrader's commands from the repository root."""
c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "attnlab"
c.CourseDirectory.root = "."  # relative, so every checkout works
c.CourseDirectory.source_directory = "solutions"  # the instructor's notebooks, with solutions and hidden tests
c.CourseDirectory.release_directory = "course"  # what students get, committed to git
# Students' work and nbgrader's products stay out of git (see .gitignore).
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# The slowest cell trains a small model for a few seconds; 120 s leaves room on a busy machine while
# still stopping a student's infinite loop.
c.Execute.timeout = 120
# A student who deletes a test cell still gets it back (and keeps the points of a correct answer).
c.OverwriteCells.add_missing_cells = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
