from .parser_factory import create_parser
