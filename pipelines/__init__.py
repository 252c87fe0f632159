"""jumpup.pipelines"""
